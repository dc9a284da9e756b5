// A bounded load run against examples/server: 20,000 requests over loopback at concurrency 64, tokens
// minted beforehand (valid EC_v1 and RSA_v1 ones used once each, deliberate replays, and invalid tokens
// of several kinds), every answer checked against the status and code its token must get.
//
//   npm run bench:load        (writes bench/load-results.json; exits 1 on any wrong verdict)
//
// The server runs as its own process, as deployed (memory replay guard), so the client's work here does
// not share its event loop. On a 2-core machine they still share the CPUs.
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { httpStatus, type ErrorCode } from '../lib/index.js';
import { defaultPayment, loadTestPki, mintToken, type MintOptions, type PaymentData } from '../test-vectors/gen/token.js';
import { startExampleServer } from '../test/support/example-process.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const REQUESTS = 20_000;
const CONCURRENCY = 64;
const WARMUP = 500;
const VALID_RSA = 2_000;
const REPLAYS = 1_500;
const INVALID = 3_500;
const VALID_EC = REQUESTS - VALID_RSA - REPLAYS - INVALID;
/** Distinct tokens per invalid kind; each is sent several times (an invalid token claims nothing). */
const VARIANTS_PER_KIND = 20;

interface Planned {
  kind: string;
  body: Buffer;
  status: number;
  /** 'OK' for 200, else the error code expected in the body. */
  code: string;
  transactionId?: string;
  /** A replay is sent only once its original has been answered, so its verdict is certain. */
  after?: Promise<void>;
  answered?: () => void;
}

// A fixed-seed generator (mulberry32): the same mix and order on every run.
let seed = 0x5eed1234;
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const randomInt = (n: number): number => Math.floor(random() * n);

const pki = loadTestPki();
const mint = (options: MintOptions): PaymentData => mintToken(pki, options).paymentData;
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

function valid(version: 'EC_v1' | 'RSA_v1'): Planned {
  const token = mint({ version });
  return { kind: `valid ${version}`, body: json(token), status: 200, code: 'OK', transactionId: token.header.transactionId };
}

/** Invalid kinds: what to send and the code it must get; the status follows from the code's family. */
const INVALID_KINDS: { kind: string; code: ErrorCode; make: () => Buffer }[] = [
  {
    kind: 'truncated JSON',
    code: 'TOKEN_MALFORMED',
    make: () => json(mint({ version: 'EC_v1' })).subarray(0, 200 + randomInt(500)),
  },
  {
    kind: 'duplicate key',
    code: 'TOKEN_MALFORMED',
    make: () => Buffer.from(JSON.stringify(mint({ version: 'EC_v1' })).replace('{', '{"data":"AAAA",')),
  },
  {
    kind: 'unknown version',
    code: 'UNSUPPORTED_VERSION',
    make: () => json({ ...mint({ version: 'EC_v1' }), version: 'EC_v2' }),
  },
  {
    kind: 'oversized signature',
    code: 'TOKEN_TOO_LARGE',
    make: () => json({ ...mint({ version: 'EC_v1' }), signature: Buffer.alloc(9000, 0x30).toString('base64') }),
  },
  {
    kind: 'tampered data',
    code: 'SIGNATURE_INVALID',
    make: () => {
      const token = mint({ version: 'EC_v1' });
      const data = Buffer.from(token.data, 'base64');
      data[randomInt(data.length - 16)]! ^= 1;
      return json({ ...token, data: data.toString('base64') });
    },
  },
  { kind: 'two signers', code: 'SIGNATURE_MALFORMED', make: () => json(mint({ version: 'EC_v1', cms: { extraSigners: 1 } })) },
  { kind: 'no signing time', code: 'SIGNING_TIME_MISSING', make: () => json(mint({ version: 'RSA_v1', signingTime: null })) },
  {
    kind: 'another merchant',
    code: 'MERCHANT_KEY_NOT_FOUND',
    make: () => json(mint({ version: 'EC_v1', merchant: 'ecRotated' })),
  },
  {
    kind: 'bad GCM tag',
    code: 'DECRYPTION_FAILED',
    make: () => {
      const data = Buffer.from(mint({ version: 'EC_v1' }).data, 'base64');
      data[data.length - 1]! ^= 1;
      return json(mint({ version: 'EC_v1', dataOverride: data }));
    },
  },
  {
    kind: 'invalid payment field',
    code: 'PAYLOAD_INVALID',
    make: () => json(mint({ version: 'EC_v1', payment: { ...defaultPayment(), transactionAmount: -1 } })),
  },
];

function plan(): { schedule: Planned[]; warmup: Planned[] } {
  const originals: Planned[] = [];
  for (let i = 0; i < VALID_EC; i++) originals.push(valid('EC_v1'));
  for (let i = 0; i < VALID_RSA; i++) originals.push(valid('RSA_v1'));
  const variants = INVALID_KINDS.map((k) => Array.from({ length: VARIANTS_PER_KIND }, () => k.make()));
  const invalid: Planned[] = Array.from({ length: INVALID }, (_, i) => {
    const k = INVALID_KINDS[i % INVALID_KINDS.length]!;
    const body = variants[i % INVALID_KINDS.length]![randomInt(VARIANTS_PER_KIND)]!;
    return { kind: k.kind, body, status: httpStatus(k.code), code: k.code };
  });
  const schedule = [...originals, ...invalid];
  for (let i = schedule.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [schedule[i], schedule[j]] = [schedule[j]!, schedule[i]!];
  }
  // Replays go a few hundred places after their original, so they rarely wait for it.
  const inserts: { at: number; item: Planned }[] = [];
  const chosen = new Set<number>();
  while (inserts.length < REPLAYS) {
    const at = randomInt(Math.floor(schedule.length * 0.8));
    const original = schedule[at]!;
    if (original.status !== 200 || chosen.has(at)) continue;
    chosen.add(at);
    original.after ??= new Promise<void>((resolve) => (original.answered = resolve));
    inserts.push({
      at: at + 200 + randomInt(2000),
      item: {
        kind: `replay ${original.kind.slice(6)}`,
        body: original.body,
        status: httpStatus('REPLAY_DETECTED'),
        code: 'REPLAY_DETECTED',
        after: original.after,
      },
    });
  }
  inserts.sort((x, y) => y.at - x.at);
  for (const { at, item } of inserts) schedule.splice(Math.min(at, schedule.length), 0, item);
  // The originals' `after` is what their replays wait on; an original itself waits on nothing.
  for (const item of schedule) if (item.status === 200) delete item.after;

  const warmup = Array.from({ length: WARMUP }, (_, i) => valid(i % 8 === 0 ? 'RSA_v1' : 'EC_v1'));
  return { schedule, warmup };
}

interface Answer {
  status: number;
  code: string | undefined;
  transactionId: string | undefined;
}

function send(agent: Agent, url: URL, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { code?: string; transactionId?: string };
          resolve({ status: res.statusCode ?? 0, code: parsed.code, transactionId: parsed.transactionId });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function run(
  agent: Agent,
  url: URL,
  items: Planned[],
  latencies: Float64Array | null,
): Promise<{ wrong: string[]; byVerdict: Map<string, number> }> {
  const wrong: string[] = [];
  const byVerdict = new Map<string, number>();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      const item = items[i]!;
      if (item.after !== undefined) await item.after;
      const start = performance.now();
      let answer: Answer;
      try {
        answer = await send(agent, url, item.body);
      } catch (err) {
        answer = { status: 0, code: `transport error: ${(err as Error).message}`, transactionId: undefined };
      }
      if (latencies !== null) latencies[i] = performance.now() - start;
      item.answered?.();
      const got = answer.status === 200 ? 'OK' : answer.code;
      const right =
        answer.status === item.status && got === item.code && (item.status !== 200 || answer.transactionId === item.transactionId);
      if (!right && wrong.length < 1000)
        wrong.push(`#${i} ${item.kind}: expected ${item.status} ${item.code}, got ${answer.status} ${got}`);
      const verdict = `${answer.status} ${got}`;
      byVerdict.set(verdict, (byVerdict.get(verdict) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  return { wrong, byVerdict };
}

const percentile = (sorted: Float64Array, p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

async function main(): Promise<void> {
  const mintStart = performance.now();
  const { schedule, warmup } = plan();
  const mintSeconds = (performance.now() - mintStart) / 1000;
  console.log(`minted ${schedule.length} requests (+${warmup.length} warm-up) in ${mintSeconds.toFixed(1)} s`);

  const server = await startExampleServer({ keepLog: false });
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const url = new URL('/payments', server.url);
  try {
    const warm = await run(agent, url, warmup, null);
    if (warm.wrong.length > 0) throw new Error(`warm-up: ${warm.wrong.slice(0, 5).join('; ')}`);

    const latencies = new Float64Array(schedule.length);
    const cpuBefore = process.cpuUsage();
    const start = performance.now();
    const { wrong, byVerdict } = await run(agent, url, schedule, latencies);
    const elapsed = (performance.now() - start) / 1000;
    const clientCpu = process.cpuUsage(cpuBefore);
    const sorted = latencies.slice().sort();

    const results = {
      date: new Date().toISOString(),
      machine: { node: process.version, openssl: process.versions.openssl, cpus: cpus().length },
      config: {
        requests: schedule.length,
        concurrency: CONCURRENCY,
        warmup: WARMUP,
        keepAlive: true,
        server: 'examples/server/main.ts, own process, memory replay guard',
        mix: {
          validEc: VALID_EC,
          validRsa: VALID_RSA,
          replays: REPLAYS,
          invalid: INVALID,
          invalidKinds: INVALID_KINDS.map((k) => `${k.kind}: ${httpStatus(k.code)} ${k.code}`),
        },
      },
      mintSeconds: round(mintSeconds, 1),
      elapsedSeconds: round(elapsed),
      requestsPerSecond: Math.round(schedule.length / elapsed),
      latencyMs: {
        p50: round(percentile(sorted, 50)),
        p90: round(percentile(sorted, 90)),
        p99: round(percentile(sorted, 99)),
        max: round(sorted[sorted.length - 1]!),
        mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length),
      },
      clientCpuSeconds: round((clientCpu.user + clientCpu.system) / 1e6),
      verdicts: Object.fromEntries([...byVerdict].sort()),
      wrongVerdicts: wrong.length,
    };
    writeFileSync(join(ROOT, 'bench', 'load-results.json'), `${JSON.stringify(results, null, 2)}\n`);
    console.log(
      `${results.config.requests} requests at concurrency ${CONCURRENCY}: ${results.requestsPerSecond} req/s, ` +
        `p50 ${results.latencyMs.p50} ms, p99 ${results.latencyMs.p99} ms, max ${results.latencyMs.max} ms`,
    );
    console.log(`verdicts: ${JSON.stringify(results.verdicts)}`);
    console.log(`wrong verdicts: ${wrong.length}`);
    for (const line of wrong.slice(0, 20)) console.log(`  ${line}`);
    console.log('written to bench/load-results.json');
    if (wrong.length > 0) process.exitCode = 1;
  } finally {
    agent.destroy();
    await server.stop();
  }
}

await main();
