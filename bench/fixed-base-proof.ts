// npm run proof:fixed-base [-- --cases 1000000 --seed 1]: the agreement proof that allows the
// fixed-base ECDSA P-256 verifier (native/fixed_base.cc) to replace OpenSSL's EVP verification for
// hot signer keys. In one process, every case goes through both of the addon's paths
// (verifySignatureEvp: EVP_PKEY_verify; verifySignatureFixedBase: the tables), and the verdicts
// (true, false, or the native error code) must be identical every time:
//   1. every Wycheproof ecdsa_secp256r1_sha256 vector, each group's key with its own table, also
//      compared with Wycheproof's expected result;
//   2. `--cases` random and mutated signatures (test/native/fixtures/fixed-base-cases.ts).
// Exits 1 on any disagreement, printing the first ones in full. The counts and the time of the last
// full run are recorded in docs/performance.md and native/README.md.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { native, type SignerKeyHandle } from '../lib/native/binding.js';
import { KINDS, genuine, mutate, proofKeys, prng, type ProofCase } from '../test/native/fixtures/fixed-base-cases.js';

interface Hooks {
  verifySignatureEvp(key: SignerKeyHandle, message: Uint8Array, signature: Uint8Array): boolean;
  verifySignatureFixedBase(key: SignerKeyHandle, message: Uint8Array, signature: Uint8Array): boolean;
}
const hooks = native as unknown as Hooks;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const CASES = arg('cases', 1_000_000);
const SEED = arg('seed', 1);
const PER_SIGNATURE = 1 + KINDS;
const RANDOM_KEYS = 15;

const outcome = (fn: () => boolean): string => {
  try {
    return String(fn());
  } catch (err) {
    return String((err as { code?: unknown }).code ?? err);
  }
};

const started = process.hrtime.bigint();
const mismatches: string[] = [];

// 1. Wycheproof
interface Group {
  publicKeyDer: string;
  tests: { tcId: number; msg: string; sig: string; result: 'valid' | 'invalid' | 'acceptable' }[];
}
const suite = JSON.parse(
  readFileSync(fileURLToPath(new URL('../test-vectors/wycheproof/ecdsa_secp256r1_sha256_test.json', import.meta.url)), 'utf8'),
) as { numberOfTests: number; testGroups: Group[] };
let wycheproof = 0;
let wycheproofExpected = 0;
for (const group of suite.testGroups) {
  const key = native.importPublicKey(Buffer.from(group.publicKeyDer, 'hex'));
  for (const t of group.tests) {
    const msg = Buffer.from(t.msg, 'hex');
    const sig = Buffer.from(t.sig, 'hex');
    const evp = outcome(() => hooks.verifySignatureEvp(key, msg, sig));
    const fast = outcome(() => hooks.verifySignatureFixedBase(key, msg, sig));
    wycheproof++;
    if (evp !== fast) mismatches.push(`wycheproof tcId ${t.tcId}: evp ${evp}, fixed-base ${fast}`);
    // 'acceptable' has no expected verdict of its own: agreement with EVP is the requirement.
    if (t.result !== 'acceptable' && sig.length > 0 && fast !== String(t.result === 'valid')) {
      mismatches.push(`wycheproof tcId ${t.tcId}: expected ${t.result}, fixed-base ${fast}`);
    } else {
      wycheproofExpected++;
    }
  }
}
if (wycheproof !== suite.numberOfTests) mismatches.push(`wycheproof: ran ${wycheproof} of ${suite.numberOfTests}`);

// 2. random and mutated
const rand = prng(SEED);
const keys = proofKeys(RANDOM_KEYS);
const handles = keys.map((k) => native.importPublicKey(k.spki));
const tally = new Map<string, { cases: number; accepted: number }>();
let done = 0;
let accepted = 0;
let evpNs = 0n;
let fastNs = 0n;
while (done < CASES) {
  const key = Math.floor(rand() * keys.length);
  const { message, signature } = genuine(keys, key, rand);
  const cases: ProofCase[] = mutate(key, message, signature, Math.min(PER_SIGNATURE, CASES - done), rand);
  for (const c of cases) {
    const h = handles[c.key]!;
    let t = process.hrtime.bigint();
    const evp = outcome(() => hooks.verifySignatureEvp(h, c.message, c.signature));
    evpNs += process.hrtime.bigint() - t;
    t = process.hrtime.bigint();
    const fast = outcome(() => hooks.verifySignatureFixedBase(h, c.message, c.signature));
    fastNs += process.hrtime.bigint() - t;
    if (evp !== fast && mismatches.length < 1000) {
      mismatches.push(
        `${keys[c.key]!.name} ${c.kind}: evp ${evp}, fixed-base ${fast}; message ${c.message.toString('hex')} signature ${c.signature.toString('hex')}`,
      );
    }
    if (c.kind === 'genuine' && evp !== 'true') mismatches.push(`${keys[c.key]!.name}: a genuine signature did not verify`);
    const entry = tally.get(c.kind) ?? { cases: 0, accepted: 0 };
    entry.cases++;
    if (evp === 'true') {
      entry.accepted++;
      accepted++;
    }
    tally.set(c.kind, entry);
    done++;
  }
  if (done % 100_000 < PER_SIGNATURE) process.stderr.write(`${done} cases...\n`);
}

const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(`fixed-base proof, seed ${SEED}: ${keys.length} keys (${RANDOM_KEYS} random, 5 special)`);
console.log(`  Wycheproof: ${wycheproof} vectors in ${suite.testGroups.length} groups, ${wycheproofExpected} as Wycheproof expects`);
console.log(`  random and mutated: ${done} cases, ${accepted} accepted by both paths`);
for (const [kind, { cases, accepted: ok }] of [...tally].sort())
  console.log(`    ${kind.padEnd(16)} ${String(cases).padStart(8)}  accepted ${ok}`);
console.log(
  `  time in verification: EVP ${(Number(evpNs) / 1e9).toFixed(1)} s, fixed-base ${(Number(fastNs) / 1e9).toFixed(1)} s; total ${seconds.toFixed(1)} s`,
);
if (mismatches.length > 0) {
  console.log(`DISAGREEMENT: ${mismatches.length}`);
  for (const m of mismatches.slice(0, 20)) console.log(`  ${m}`);
  process.exit(1);
}
console.log('agreement: every verdict identical');
