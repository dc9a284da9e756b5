// examples/server as it would run: its own process, configured by environment variables, on a loopback
// port, trusting the test root, with the EC and RSA test merchants. Every status family is asserted with
// the code in the body, and the request log is checked for what must never be in it.
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createPaymentServer, STATUS_BY_CODE, type LogEntry } from '../../examples/server/app.js';
import type { Verifier } from '../../lib/index.js';
import { defaultPayment, type PaymentData } from '../../test-vectors/gen/token.js';
import { startExampleServer, type ExampleServer } from '../support/example-process.js';
import { mint, pki, testVerifier } from '../support/helpers.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function post(url: string, body: string | Buffer | object, path = '/payments'): Promise<Answer> {
  const payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** A body sent in chunks with no Content-Length, so only the running count can stop it. */
function postChunked(url: string, chunks: number, chunkBytes: number): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/payments`, { method: 'POST' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    for (let i = 0; i < chunks; i++) req.write(Buffer.alloc(chunkBytes, 0x20));
    req.end();
  });
}

const SECRET_PAN = '5500005555555559';
const SECRET_CRYPTOGRAM = Buffer.from('example-server-test-cryptogram!!').toString('base64');

describe('example server, memory replay guard', () => {
  let server: ExampleServer;
  const sent: { pans: Set<string>; cryptograms: Set<string>; answers: number } = { pans: new Set(), cryptograms: new Set(), answers: 0 };
  const send = async (body: string | Buffer | object, path?: string): Promise<Answer> => {
    const answer = await post(server.url, body, path);
    sent.answers++;
    return answer;
  };

  beforeAll(async () => {
    server = await startExampleServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  test('200 with the processor fields, for EC_v1 and RSA_v1, bare paymentData or the Apple Pay JS token', async () => {
    const payment = {
      ...defaultPayment(),
      applicationPrimaryAccountNumber: SECRET_PAN,
      paymentData: { onlinePaymentCryptogram: SECRET_CRYPTOGRAM, eciIndicator: '5' },
    };
    const ec = mint({ version: 'EC_v1', payment });
    sent.pans.add(SECRET_PAN);
    sent.cryptograms.add(SECRET_CRYPTOGRAM);
    const ok = await send(ec.paymentData);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    expect(ok.body).toEqual({
      transactionId: ec.expected.transactionId,
      version: 'EC_v1',
      paymentDataType: '3DSecure',
      pan: SECRET_PAN,
      expiry: '311231',
      amount: 1999,
      currency: '840',
      cryptogram: SECRET_CRYPTOGRAM,
      eci: '5',
    });

    const rsa = mint({ version: 'RSA_v1' });
    const fromRsa = await send(rsa.paymentData);
    expect(fromRsa.status).toBe(200);
    expect(fromRsa.body).toMatchObject({
      transactionId: rsa.expected.transactionId,
      version: 'RSA_v1',
      pan: '4111111111111111',
      cryptogram: 'AOA3rpYAAAAAAAAAAAAAAAAAAAA=',
    });
    sent.pans.add('4111111111111111');
    sent.cryptograms.add('AOA3rpYAAAAAAAAAAAAAAAAAAAA=');

    // What Apple Pay JS gives the page: the token with paymentMethod and an upper-case transactionIdentifier.
    const wrapped = mint({ version: 'EC_v1' });
    const applePayJs = {
      paymentData: wrapped.paymentData,
      paymentMethod: { displayName: 'Visa 1111', network: 'Visa', type: 'debit' },
      transactionIdentifier: wrapped.expected.transactionId.toUpperCase(),
    };
    await expect(send(applePayJs)).resolves.toMatchObject({ status: 200, body: { transactionId: wrapped.expected.transactionId } });

    const emv = mint({
      version: 'EC_v1',
      payment: { ...defaultPayment(), paymentDataType: 'EMV', paymentData: { emvData: 'nyYIAAAAAAAAAAA=' } },
    });
    const fromEmv = await send(emv.paymentData);
    expect(fromEmv.status).toBe(200);
    expect(fromEmv.body).toMatchObject({ paymentDataType: 'EMV', emvData: 'nyYIAAAAAAAAAAA=' });
    expect(fromEmv.body).not.toHaveProperty('cryptogram');
  });

  test('409 REPLAY_DETECTED for a token already accepted, in any form', async () => {
    const { paymentData, expected } = mint({ version: 'RSA_v1' });
    expect((await send(paymentData)).status).toBe(200);
    await expect(send(paymentData)).resolves.toMatchObject({ status: 409, body: { code: 'REPLAY_DETECTED' } });
    await expect(send({ paymentData, transactionIdentifier: expected.transactionId.toUpperCase() })).resolves.toMatchObject({
      status: 409,
      body: { code: 'REPLAY_DETECTED' },
    });
  });

  test('400 for what is not a readable token: TOKEN_MALFORMED, TOKEN_TOO_LARGE, UNSUPPORTED_VERSION', async () => {
    const token = mint({ version: 'EC_v1' }).paymentData;
    const cases: [string | Buffer | object, string][] = [
      ['{"version":', 'TOKEN_MALFORMED'],
      ['', 'TOKEN_MALFORMED'],
      [JSON.stringify(token).replace('{', '{"data":"AAAA",'), 'TOKEN_MALFORMED'],
      [{ ...token, header: { ...token.header, transactionId: 'zz' } }, 'TOKEN_MALFORMED'],
      // Over the body cap (read as far as the cap, no further) and, under it, a signature over the library's.
      [Buffer.alloc(70_000, 0x20), 'TOKEN_TOO_LARGE'],
      [{ ...token, signature: Buffer.alloc(9000, 0x30).toString('base64') }, 'TOKEN_TOO_LARGE'],
      [{ ...token, version: 'EC_v2' }, 'UNSUPPORTED_VERSION'],
    ];
    for (const [body, code] of cases) {
      const answer = await send(body);
      expect({ code, answer: answer.body }).toEqual({ code, answer: { code, message: expect.any(String) } });
      expect(answer.status).toBe(400);
    }
    await expect(postChunked(server.url, 20, 10_000)).resolves.toMatchObject({ status: 400, body: { code: 'TOKEN_TOO_LARGE' } });
    sent.answers++;
  });

  test('422 for tokens that fail a check: signature, signing time, certificates, merchant key, decryption, payload', async () => {
    const p = pki();
    const good = mint({ version: 'EC_v1' }).paymentData;
    const tampered = Buffer.from(good.data, 'base64');
    tampered[0]! ^= 1;
    const badTag = Buffer.from(good.data, 'base64');
    badTag[badTag.length - 1]! ^= 1;
    const cases: [PaymentData, string][] = [
      [{ ...good, data: tampered.toString('base64') }, 'SIGNATURE_INVALID'],
      [mint({ version: 'EC_v1', cms: { extraSigners: 1 } }).paymentData, 'SIGNATURE_MALFORMED'],
      [mint({ version: 'EC_v1', signingTime: null }).paymentData, 'SIGNING_TIME_MISSING'],
      [mint({ version: 'EC_v1', signingTime: new Date(Date.now() - 3_600_000) }).paymentData, 'SIGNING_TIME_TOO_OLD'],
      [mint({ version: 'EC_v1', certificates: [p.leafEc.certDer, p.wwdr.certDer] }).paymentData, 'INTERMEDIATE_CERT_INVALID'],
      [mint({ version: 'EC_v1', merchant: 'ecRotated' }).paymentData, 'MERCHANT_KEY_NOT_FOUND'],
      [mint({ version: 'EC_v1', dataOverride: badTag }).paymentData, 'DECRYPTION_FAILED'],
      [mint({ version: 'RSA_v1', symmetricKey: Buffer.alloc(32, 1) }).paymentData, 'DECRYPTION_FAILED'],
      [mint({ version: 'EC_v1', payment: Buffer.from('not json') }).paymentData, 'PAYLOAD_INVALID'],
    ];
    for (const [token, code] of cases) {
      const answer = await send(token);
      expect({ code, status: answer.status, body: answer.body }).toEqual({
        code,
        status: 422,
        body: { code, message: expect.any(String) },
      });
    }
  });

  test('404 off /payments, 405 for another method', async () => {
    await expect(send({}, '/pay')).resolves.toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    const res = await fetch(`${server.url}/payments`);
    sent.answers++;
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });

  test('the log has one line per request, the PAN cut to its last four digits, never a cryptogram', async () => {
    // The line is written after the answer is sent: give the pipe a moment to deliver the last ones.
    for (let i = 0; i < 200 && server.log.length < sent.answers; i++) await sleep(10);
    expect(server.log).toHaveLength(sent.answers);
    const entries = server.log.map((line) => JSON.parse(line) as LogEntry);
    const accepted = entries.filter((e) => e.status === 200);
    expect(accepted.map((e) => e.panLast4)).toContain(SECRET_PAN.slice(-4));
    for (const e of accepted) expect(e).toMatchObject({ code: 'OK', panLast4: expect.stringMatching(/^\d{4}$/) });
    expect(entries.filter((e) => e.status === 409).map((e) => e.code)).toEqual(['REPLAY_DETECTED', 'REPLAY_DETECTED']);
    const text = server.log.join('\n');
    for (const pan of sent.pans) expect(text).not.toContain(pan);
    for (const cryptogram of sent.cryptograms) expect(text).not.toContain(cryptogram);
    expect(text).not.toContain('nyYIAAAAAAAAAAA=');
  });
});

describe('example servers sharing Redis (REDIS_URL)', () => {
  let redis: TestRedis;
  let a: ExampleServer;
  let b: ExampleServer;

  beforeAll(async () => {
    // AOF: a Redis that restarts without persistence makes the guards fence themselves (docs/replay.md).
    redis = await startRedis({ aof: true });
    const env = { REDIS_URL: `redis://127.0.0.1:${redis.port}` };
    [a, b] = await Promise.all([startExampleServer({ env }), startExampleServer({ env })]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  test('accepted by one instance, 409 at the other; 503 while Redis is down; accepted again once it is back', async () => {
    const { paymentData } = mint({ version: 'EC_v1' });
    await expect(post(a.url, paymentData)).resolves.toMatchObject({ status: 200 });
    await expect(post(b.url, paymentData)).resolves.toMatchObject({ status: 409, body: { code: 'REPLAY_DETECTED' } });

    await redis.kill();
    const refusedWhileDown = mint({ version: 'RSA_v1' }).paymentData;
    for (const server of [a, b]) {
      const down = await post(server.url, refusedWhileDown);
      expect(down).toMatchObject({ status: 503, body: { code: 'REPLAY_STORE_UNAVAILABLE' } });
      expect(down.headers.get('retry-after')).toBe('1');
    }
    // A token that fails a check earlier is still refused for what it is, store or no store.
    await expect(post(a.url, '{')).resolves.toMatchObject({ status: 400, body: { code: 'TOKEN_MALFORMED' } });

    await redis.restart();
    // Each instance reconnects on its own schedule: probe each with fresh tokens until one is accepted.
    for (const server of [a, b]) {
      let status = 0;
      for (let i = 0; i < 200 && status !== 200; i++) {
        ({ status } = await post(server.url, mint({ version: 'EC_v1' }).paymentData));
        if (status !== 200) {
          expect(status).toBe(503);
          await sleep(25);
        }
      }
      expect(status).toBe(200);
    }
    // The outage used nothing up: the token refused then is accepted now, once.
    await expect(post(b.url, refusedWhileDown)).resolves.toMatchObject({ status: 200 });
    await expect(post(a.url, refusedWhileDown)).resolves.toMatchObject({ status: 409, body: { code: 'REPLAY_DETECTED' } });
  });
});

describe('faults outside the token', () => {
  async function listen(verifier: Verifier): Promise<{ url: string; log: LogEntry[]; close(): Promise<void> }> {
    const log: LogEntry[] = [];
    const server = createPaymentServer({ verifier, log: (e) => log.push(e) });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      log,
      close: () => new Promise((resolve) => server.close(() => resolve())),
    };
  }

  test("500 INTERNAL when verification faults, without the fault's text", async () => {
    const broken = testVerifier({
      clock: () => {
        throw new Error('clock source /dev/secret unavailable');
      },
    });
    const server = await listen(broken);
    try {
      const answer = await post(server.url, mint({ version: 'EC_v1' }).paymentData);
      expect(answer).toMatchObject({ status: 500, body: { code: 'INTERNAL' } });
      expect(JSON.stringify(answer.body)).not.toContain('secret');
    } finally {
      await server.close();
    }
  });

  test('500 INTERNAL when something other than an ApplePayError escapes', async () => {
    const faulty = {
      verifyAndDecrypt: () => Promise.reject(new Error('token 4111111111111111 broke the parser')),
      verifyAndDecryptSync: () => {
        throw new Error('unused');
      },
      lastError: () => null,
      merchantKeys: () => [],
      release: () => Promise.resolve(false),
    } satisfies Verifier;
    const server = await listen(faulty);
    try {
      const answer = await post(server.url, '{}');
      expect(answer).toMatchObject({ status: 500, body: { code: 'INTERNAL', message: 'internal error' } });
      expect(JSON.stringify(server.log)).not.toContain('4111');
    } finally {
      await server.close();
    }
  });

  test('every error code has a status of its family', () => {
    const families = Object.entries(STATUS_BY_CODE).reduce<Record<number, string[]>>((acc, [code, status]) => {
      (acc[status] ??= []).push(code);
      return acc;
    }, {});
    expect(families[400]?.sort()).toEqual(['TOKEN_MALFORMED', 'TOKEN_TOO_LARGE', 'UNSUPPORTED_VERSION']);
    expect(families[409]).toEqual(['REPLAY_DETECTED']);
    expect(families[503]).toEqual(['REPLAY_STORE_UNAVAILABLE']);
    expect(families[500]).toContain('INTERNAL');
    expect(Object.keys(families).sort()).toEqual(['400', '409', '422', '500', '503']);
  });
});
