// Fail closed: faults injected into the addon and into the certificate layer (throwing, throwing
// the wrong thing, returning garbage) end in INTERNAL or in the code the fault imitates, on both
// APIs, and no token is ever accepted on an error path. When the fault goes away, the same token
// verifies again: a fault is not remembered as a verdict.
//
// The mocks delegate to the real modules until a test installs a fault, and live in this file only
// (vitest isolates module mocks per test file).
import diagnostics_channel from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { describe, expect, test, vi } from 'vitest';
import { ApplePayError, VERIFY_CHANNEL_NAME, type ErrorCode, type Verifier } from '../../lib/index.js';
import type * as NativeModule from '../../lib/native/binding.js';
import type * as CertificatesModule from '../../lib/x509/certificates.js';
import { verdictAsync, verdictSync, type Verdict } from '../support/hardening.js';
import { mint, pki, testVerifier } from '../support/helpers.js';

type Fault = (name: string, args: unknown[], real: () => unknown) => unknown;
const faults = vi.hoisted(() => ({ native: null as Fault | null, certificates: null as Fault | null }));

vi.mock('../../lib/native/binding.js', async (importOriginal) => {
  const real = await importOriginal<typeof NativeModule>();
  const target = real.native as unknown as Record<string, unknown>;
  // A copy rather than a Proxy: the addon's exports are non-configurable, which a Proxy must mirror.
  const native = Object.fromEntries(
    Object.keys(target).map((name) => {
      const value = target[name];
      if (typeof value !== 'function') return [name, value];
      const wrapper = (...args: unknown[]) => {
        const call = () => (value as (...a: unknown[]) => unknown).apply(target, args);
        return faults.native === null ? call() : faults.native(name, args, call);
      };
      return [name, wrapper];
    }),
  );
  return { ...real, native };
});

vi.mock('../../lib/x509/certificates.js', async (importOriginal) => {
  const real = await importOriginal<typeof CertificatesModule>();
  const wrap =
    <A extends unknown[], R>(name: string, fn: (...args: A) => R) =>
    (...args: A): R =>
      faults.certificates === null ? fn(...args) : (faults.certificates(name, args, () => fn(...args)) as R);
  return {
    ...real,
    parseCertificate: wrap('parseCertificate', real.parseCertificate),
    isIssuedBy: wrap('isIssuedBy', real.isIssuedBy),
    isValidAt: wrap('isValidAt', real.isValidAt),
    merchantIdentifierHash: wrap('merchantIdentifierHash', real.merchantIdentifierHash),
  };
});

const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000);
const now = new Date(signingTime.getTime() + 1000);
const tokens = { EC_v1: mint({ version: 'EC_v1', signingTime }), RSA_v1: mint({ version: 'RSA_v1', signingTime }) };

function nativeError(code: string): Error {
  return Object.assign(new Error('injected'), { code });
}

/** Only the calls named fail; everything else runs for real. */
function on(names: readonly string[], fault: (real: () => unknown, args: unknown[]) => unknown): Fault {
  return (name, args, real) => (names.includes(name) ? fault(real, args) : real());
}

/** Decryption faults shaped like each entry point: the async ones settle a promise, the sync ones throw. */
function byForm(asyncResult: () => Promise<unknown>): Fault {
  return (name, args, real) => {
    if (!DECRYPT.includes(name)) return real();
    if (args[0] === true) return asyncResult();
    throw new Error('x');
  };
}

async function outcomes(verifier: Verifier, token: unknown): Promise<{ sync: Verdict; async: Verdict }> {
  return { sync: verdictSync(verifier, token, now), async: await verdictAsync(verifier, token, now) };
}

function expectRefused(v: Verdict, allowed: readonly ErrorCode[]): void {
  expect(v).toMatchObject({ ok: false });
  expect(allowed).toContain((v as { code: ErrorCode }).code);
}

// The addon has one token entry point; the sync and async forms differ only in its first argument.
const DECRYPT = ['token'];
// A real handle of the wrong kind: a merchant's private key where the signer's public key belongs.
let merchantKeyHandle: unknown;
const merchantHandle = (): unknown => merchantKeyHandle;
const random = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + 17) & 0xff));

describe('faults in the addon during verification', () => {
  const verifier = testVerifier({ trackLastError: true });
  const cases: [string, Fault, readonly ErrorCode[]][] = [
    [
      'throws a plain Error',
      on(DECRYPT, () => {
        throw new Error('segfault imminent');
      }),
      ['INTERNAL'],
    ],
    [
      'throws ERR_INTERNAL',
      on(DECRYPT, () => {
        throw nativeError('ERR_INTERNAL');
      }),
      ['INTERNAL'],
    ],
    [
      'throws ERR_ARGUMENT',
      on(DECRYPT, () => {
        throw nativeError('ERR_ARGUMENT');
      }),
      ['INTERNAL'],
    ],
    [
      'throws ERR_KEY_DECODE (a code decryption never gives)',
      on(DECRYPT, () => {
        throw nativeError('ERR_KEY_DECODE');
      }),
      ['INTERNAL'],
    ],
    [
      'throws an unknown code',
      on(DECRYPT, () => {
        throw nativeError('ERR_SOMETHING_NEW');
      }),
      ['INTERNAL'],
    ],
    [
      'throws a string',
      on(DECRYPT, () => {
        throw 'ERR_DECRYPT';
      }),
      ['INTERNAL'],
    ],
    [
      'throws undefined',
      on(DECRYPT, () => {
        throw undefined;
      }),
      ['INTERNAL'],
    ],
    [
      'throws ERR_DECRYPT',
      on(DECRYPT, () => {
        throw nativeError('ERR_DECRYPT');
      }),
      ['DECRYPTION_FAILED'],
    ],
    [
      'throws ERR_EPHEMERAL_KEY',
      on(DECRYPT, () => {
        throw nativeError('ERR_EPHEMERAL_KEY');
      }),
      ['EPHEMERAL_KEY_INVALID'],
    ],
    ['the sync forms throw, the async forms reject with a plain Error', byForm(() => Promise.reject(new Error('x'))), ['INTERNAL']],
    ['the async forms resolve to random bytes', byForm(() => Promise.resolve(random(64))), ['INTERNAL', 'PAYLOAD_INVALID']],
    ['returns random bytes', on(DECRYPT, () => random(300)), ['PAYLOAD_INVALID']],
    ['returns an empty Buffer', on(DECRYPT, () => Buffer.alloc(0)), ['PAYLOAD_INVALID']],
    ['returns a string', on(DECRYPT, () => '{"applicationPrimaryAccountNumber":"4111111111111111"}'), ['INTERNAL', 'PAYLOAD_INVALID']],
    ['returns undefined', on(DECRYPT, () => undefined), ['INTERNAL', 'PAYLOAD_INVALID']],
    ['returns null', on(DECRYPT, () => null), ['INTERNAL', 'PAYLOAD_INVALID']],
    ['returns a number', on(DECRYPT, () => 42), ['INTERNAL', 'PAYLOAD_INVALID']],
    [
      'returns a plain object',
      // Parenthesised: a bare `{ length: 3 }` body is a label and returns undefined.
      on(DECRYPT, () => ({ length: 3 })),
      ['INTERNAL', 'PAYLOAD_INVALID'],
    ],
    ['returns a Uint16Array', on(DECRYPT, () => new Uint16Array(8)), ['INTERNAL', 'PAYLOAD_INVALID']],
  ];

  test.each(cases)('%s', async (_, fault, allowed) => {
    for (const version of ['EC_v1', 'RSA_v1'] as const) {
      const token = tokens[version].paymentData;
      faults.native = fault;
      try {
        const { sync, async } = await outcomes(verifier, token);
        expectRefused(sync, allowed);
        expectRefused(async, allowed);
        await expect(verifier.verifyAndDecrypt(token, { now })).rejects.toBeInstanceOf(ApplePayError);
        expect(verifier.lastError()?.code).toBe((async as { code: ErrorCode }).code);
      } finally {
        faults.native = null;
      }
      expect(verdictSync(verifier, token, now)).toMatchObject({ ok: true });
    }
  });
});

describe("faults in the addon's signer entry points", () => {
  test('setup: a merchant key handle to pass off as a signer key', async () => {
    const { native } = await vi.importActual<typeof NativeModule>('../../lib/native/binding.js');
    merchantKeyHandle = native.importKey(readFileSync(pki().merchants.ec.keyPath));
    expect(merchantKeyHandle).toBeDefined();
  });

  // With a refusal pending (here a stale signing time) the token operation runs without a merchant
  // key and only checks the signature: only null (verified) lets the refusal through, ERR_SIGNATURE
  // outranks it, and anything else fails closed. With or without a subscriber: the same call.
  const subscriber = () => undefined;
  const late = new Date(now.getTime() + 3_600_000);
  const signatureOnly =
    (fault: (real: () => unknown, args: unknown[]) => unknown): Fault =>
    (name, args, real) =>
      name === 'token' && args[4] === null ? fault(real, args) : real();
  const cases: [string, Fault, readonly ErrorCode[]][] = [
    [
      'the signature check throws',
      signatureOnly(() => {
        throw new Error('x');
      }),
      ['INTERNAL'],
    ],
    [
      'the signature check throws ERR_INTERNAL',
      signatureOnly(() => {
        throw nativeError('ERR_INTERNAL');
      }),
      ['INTERNAL'],
    ],
    [
      'the signature check says no (ERR_SIGNATURE)',
      signatureOnly(() => {
        throw nativeError('ERR_SIGNATURE');
      }),
      ['SIGNATURE_INVALID'],
    ],
    // Anything but null is not a verified signature: a truthy value of the wrong type (a promise
    // from the async form wired into the sync path, say) must not pass for one.
    ['the signature check returns false', signatureOnly(() => false), ['INTERNAL']],
    ['the signature check returns true', signatureOnly(() => true), ['INTERNAL']],
    ['the signature check returns an object', signatureOnly(() => ({ valid: true })), ['INTERNAL']],
    ['the signature check returns a plaintext', signatureOnly(() => random(64)), ['INTERNAL']],
  ];

  test.each([false, true])('with a subscriber: %s', async (subscribed) => {
    if (subscribed) diagnostics_channel.subscribe(VERIFY_CHANNEL_NAME, subscriber);
    try {
      for (const [, fault, allowed] of cases) {
        for (const version of ['EC_v1', 'RSA_v1'] as const) {
          const verifier = testVerifier();
          const token = tokens[version].paymentData;
          faults.native = fault;
          try {
            expectRefused(verdictSync(verifier, token, late), allowed);
            expectRefused(await verdictAsync(verifier, token, late), allowed);
          } finally {
            faults.native = null;
          }
          expect(verdictSync(verifier, token, late)).toMatchObject({ ok: false, code: 'SIGNING_TIME_TOO_OLD' });
          expect(await verdictAsync(verifier, token, late)).toMatchObject({ ok: false, code: 'SIGNING_TIME_TOO_OLD' });
        }
      }
    } finally {
      if (subscribed) diagnostics_channel.unsubscribe(VERIFY_CHANNEL_NAME, subscriber);
    }
  });

  test('importPublicKey throws: INTERNAL, and the chain is not remembered as broken', async () => {
    for (const version of ['EC_v1', 'RSA_v1'] as const) {
      const verifier = testVerifier({ intermediates: [] });
      const token = tokens[version].paymentData;
      faults.native = on(['importPublicKey'], () => {
        throw new Error('x');
      });
      try {
        const { sync, async } = await outcomes(verifier, token);
        expectRefused(sync, ['INTERNAL']);
        expectRefused(async, ['INTERNAL']);
      } finally {
        faults.native = null;
      }
      expect(verdictSync(verifier, token, now)).toMatchObject({ ok: true });
    }
  });

  // A handle that is not one is refused by the addon itself (its type tag), so the token fails. What the
  // pipeline can see to be wrong (not an object, a type that is not the leaf's) is thrown, not cached,
  // so the verifier recovers once the fault clears; a look-alike of the right type is kept with the
  // chain, and that verifier stays closed (never open) for the set.
  test.each([
    ['importPublicKey returns a look-alike handle', on(['importPublicKey'], () => ({ type: 'ec', bits: 256 })), false],
    [
      'importPublicKey returns a look-alike of the other type',
      on(['importPublicKey'], (real) => ({ type: (real() as { type: string }).type === 'ec' ? 'rsa' : 'ec' })),
      true,
    ],
    ['importPublicKey returns null', on(['importPublicKey'], () => null), true],
    ['importPublicKey returns a merchant key handle', on(['importPublicKey'], () => merchantHandle()), false],
  ] as [string, Fault, boolean][])('%s: refused, never accepted', async (_, fault, recovers) => {
    for (const version of ['EC_v1', 'RSA_v1'] as const) {
      const verifier = testVerifier({ intermediates: [] });
      faults.native = fault;
      try {
        const { sync, async } = await outcomes(verifier, tokens[version].paymentData);
        expectRefused(sync, ['INTERNAL', 'LEAF_CERT_INVALID']);
        expectRefused(async, ['INTERNAL', 'LEAF_CERT_INVALID']);
      } finally {
        faults.native = null;
      }
      if (recovers) expect(verdictSync(verifier, tokens[version].paymentData, now)).toMatchObject({ ok: true });
    }
  });

  test('the token operation failing its signature (ERR_SIGNATURE) is SIGNATURE_INVALID', async () => {
    const verifier = testVerifier();
    faults.native = on(DECRYPT, () => {
      throw nativeError('ERR_SIGNATURE');
    });
    try {
      const { sync, async } = await outcomes(verifier, tokens.EC_v1.paymentData);
      expect([sync, async]).toEqual([
        { ok: false, code: 'SIGNATURE_INVALID' },
        { ok: false, code: 'SIGNATURE_INVALID' },
      ]);
    } finally {
      faults.native = null;
    }
  });
});

describe('faults in the certificate layer during verification', () => {
  const cases: [string, Fault, readonly ErrorCode[]][] = [
    [
      'parseCertificate throws a plain Error',
      on(['parseCertificate'], () => {
        throw new Error('pkijs exploded');
      }),
      ['INTERNAL'],
    ],
    [
      'parseCertificate throws RangeError',
      on(['parseCertificate'], () => {
        throw new RangeError('Maximum call stack size exceeded');
      }),
      ['INTERNAL'],
    ],
    ['parseCertificate returns garbage', on(['parseCertificate'], () => ({})), ['INTERNAL']],
    ['parseCertificate returns null', on(['parseCertificate'], () => null), ['INTERNAL']],
    [
      'isIssuedBy throws',
      on(['isIssuedBy'], () => {
        throw new Error('EVP_DigestVerify failed');
      }),
      ['INTERNAL'],
    ],
    // Its answer is a boolean: false is the one wrong answer a fault can give without lying.
    ['isIssuedBy says no', on(['isIssuedBy'], () => false), ['CHAIN_UNTRUSTED']],
    [
      'isValidAt throws',
      on(['isValidAt'], () => {
        throw new Error('clock');
      }),
      ['INTERNAL'],
    ],
    ['isValidAt returns garbage', on(['isValidAt'], () => undefined), ['INTERNAL', 'CERT_EXPIRED']],
  ];

  test.each(cases)('%s', async (_, fault, allowed) => {
    for (const version of ['EC_v1', 'RSA_v1'] as const) {
      // A verifier per case: its chain cache starts empty, so the fault meets the certificates.
      const verifier = testVerifier({ intermediates: [] });
      const token = tokens[version].paymentData;
      faults.certificates = fault;
      try {
        const { sync, async } = await outcomes(verifier, token);
        expectRefused(sync, allowed);
        expectRefused(async, allowed);
      } finally {
        faults.certificates = null;
      }
      // A thrown fault is not cached as a verdict; a "no" is a verdict, remembered for that
      // certificate set, so a fresh verifier shows the recovery.
      const after = allowed.includes('INTERNAL') ? verifier : testVerifier({ intermediates: [] });
      expect(verdictSync(after, token, now)).toMatchObject({ ok: true });
    }
  });

  test('a certificate the layer calls unparsable is SIGNATURE_MALFORMED, and the verdict is kept for that set only', async () => {
    const { CertificateError } = await vi.importActual<typeof CertificatesModule>('../../lib/x509/certificates.js');
    const verifier = testVerifier({ intermediates: [] });
    faults.certificates = on(['parseCertificate'], () => {
      throw new CertificateError('injected');
    });
    try {
      expect(verdictSync(verifier, tokens.EC_v1.paymentData, now)).toEqual({ ok: false, code: 'SIGNATURE_MALFORMED' });
    } finally {
      faults.certificates = null;
    }
    expect(verdictSync(verifier, tokens.RSA_v1.paymentData, now)).toMatchObject({ ok: true });
  });
});

describe('faults while building a verifier', () => {
  const p = pki();
  const build = () =>
    testVerifier({
      merchants: { certificate: p.merchants.ec.certPem, privateKey: p.merchants.ec.key.export({ type: 'pkcs8', format: 'pem' }) },
    });
  const cases: [string, () => void, readonly ErrorCode[]][] = [
    [
      'importKey throws a plain Error',
      () =>
        (faults.native = on(['importKey'], () => {
          throw new Error('x');
        })),
      ['INTERNAL'],
    ],
    [
      'importKey throws ERR_INTERNAL',
      () =>
        (faults.native = on(['importKey'], () => {
          throw nativeError('ERR_INTERNAL');
        })),
      ['INTERNAL'],
    ],
    [
      'importKey returns a handle for another key',
      () => (faults.native = on(['importKey'], () => ({ type: 'ec', bits: 256, spki: Buffer.alloc(91, 1), certificate: null }))),
      ['MERCHANT_KEY_INVALID'],
    ],
    ['importKey returns null', () => (faults.native = on(['importKey'], () => null)), ['INTERNAL']],
    ['importKey returns a handle without spki', () => (faults.native = on(['importKey'], () => ({ type: 'ec', bits: 256 }))), ['INTERNAL']],
    [
      'parseCertificate throws',
      () =>
        (faults.certificates = on(['parseCertificate'], () => {
          throw new Error('x');
        })),
      ['INTERNAL'],
    ],
    [
      'merchantIdentifierHash throws',
      () =>
        (faults.certificates = on(['merchantIdentifierHash'], () => {
          throw new Error('x');
        })),
      ['INTERNAL'],
    ],
  ];

  test.each(cases)('%s: createVerifier throws an ApplePayError, and no verifier exists', (_, install, allowed) => {
    install();
    let thrown: unknown;
    let verifier: Verifier | undefined;
    try {
      verifier = build();
    } catch (err) {
      thrown = err;
    } finally {
      faults.native = null;
      faults.certificates = null;
    }
    expect(verifier).toBeUndefined();
    expect(thrown).toBeInstanceOf(ApplePayError);
    expect(allowed).toContain((thrown as ApplePayError).code);
    expect(build()).toBeDefined();
  });
});
