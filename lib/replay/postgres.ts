// Replay protection on PostgreSQL: how payment companies keep idempotency keys. A claim is one row,
// keyed by the transactionId, committed synchronously: once the verifier says OK, the claim survives a
// crash of the database server (and, with synchronous replication configured, a failover).
//
// The pool is typed by the methods used, so this module imports no PostgreSQL library; `pg` (an
// optional peer dependency) fits as it is.
import { ApplePayError } from '../errors.js';
import type { StoreReplayGuard } from './guard.js';

export interface PostgresQueryResult {
  rowCount: number | null;
}

export interface PostgresPoolClient {
  query(text: string, values?: unknown[]): Promise<PostgresQueryResult>;
  /** pg's PoolClient.release: with an error, the connection is destroyed instead of reused. */
  release(err?: Error | boolean): void;
  /** pg's EventEmitter: a checked-out client emits 'error' when its server goes away between queries. */
  on?(event: 'error', listener: (err: Error) => void): unknown;
  off?(event: 'error', listener: (err: Error) => void): unknown;
}

// A checked-out pg client whose server dies between two queries emits 'error'; without a listener
// that would crash the process. The failure reaches the guard through the next query anyway.
const ignore = (): void => undefined;

/** The part of a pg.Pool the guard needs. */
export interface PostgresPool {
  connect(): Promise<PostgresPoolClient>;
  query(text: string, values?: unknown[]): Promise<PostgresQueryResult>;
}

export interface PostgresReplayGuardOptions {
  /** Table of claims, created if missing (unless createTable is false). Default "applepay_verify_replay". */
  table?: string;
  /** Create the table and its index at first use. Default true. */
  createTable?: boolean;
  /** Longest a claim's statements may run, in ms (statement_timeout, and the connection is dropped after). Default 1000. */
  statementTimeoutMs?: number;
  /** Expired rows deleted per batch, at most once per sweepInterval. Default 1000. */
  sweepBatch?: number;
  /** Seconds between sweeps of expired rows. Default 30. */
  sweepInterval?: number;
}

function configError(message: string, field: string): ApplePayError {
  return new ApplePayError('CONFIG_INVALID', message, { field });
}

class Timeout extends Error {}

/**
 * A ReplayGuard on PostgreSQL. Each claim: BEGIN, synchronous_commit on and a statement_timeout for
 * this transaction only, one INSERT ... ON CONFLICT that takes the id unless a live claim holds it,
 * COMMIT. Expired rows are taken over by the INSERT and deleted in bounded batches in the background.
 */
export function postgresReplayGuard(pool: PostgresPool, options: PostgresReplayGuardOptions = {}): StoreReplayGuard {
  if (typeof pool !== 'object' || pool === null || typeof pool.connect !== 'function' || typeof pool.query !== 'function') {
    throw configError('postgresReplayGuard needs a pg Pool (connect() and query())', 'pool');
  }
  if (typeof options !== 'object' || options === null) throw configError('postgresReplayGuard options must be an object', 'options');
  const table = options.table ?? 'applepay_verify_replay';
  // Interpolated into SQL: a plain (optionally schema-qualified) identifier only.
  if (typeof table !== 'string' || !/^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$/.test(table)) {
    throw configError('table must be a lower-case SQL identifier, optionally schema-qualified', 'table');
  }
  const createTable = options.createTable ?? true;
  const timeoutMs = options.statementTimeoutMs ?? 1000;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 60_000) {
    throw configError('statementTimeoutMs must be an integer from 1 to 60000', 'statementTimeoutMs');
  }
  const sweepBatch = options.sweepBatch ?? 1000;
  if (!Number.isSafeInteger(sweepBatch) || sweepBatch < 1 || sweepBatch > 100_000) {
    throw configError('sweepBatch must be an integer from 1 to 100000', 'sweepBatch');
  }
  const sweepEvery = (options.sweepInterval ?? 30) * 1000;
  if (!Number.isFinite(sweepEvery) || sweepEvery < 0) throw configError('sweepInterval must be a number of seconds', 'sweepInterval');
  const index = `${table.replace('.', '_')}_expires_at`;

  let created: Promise<void> | null = null;
  let lastSweep = Date.now();

  function bounded<T>(work: Promise<T>, onTimeout: () => void): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          onTimeout();
          reject(new Timeout('replay store statement timed out'));
        }, timeoutMs + 50);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  async function ensureTable(): Promise<void> {
    if (!createTable) return;
    created ??= (async () => {
      const ddl = `CREATE TABLE IF NOT EXISTS ${table} (transaction_id text PRIMARY KEY, owner text NOT NULL, expires_at timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS ${index} ON ${table} (expires_at)`;
      try {
        await pool.query(ddl);
      } catch {
        // Two processes creating the table at once: one of them loses a catalog race; try once more.
        await pool.query(ddl);
      }
    })();
    created.catch(() => {
      created = null;
    });
    return created;
  }

  function sweep(): void {
    const now = Date.now();
    if (now - lastSweep < sweepEvery) return;
    lastSweep = now;
    // The index on expires_at finds the batch; a bounded batch never holds locks for long.
    pool
      .query(
        `DELETE FROM ${table} WHERE transaction_id IN (SELECT transaction_id FROM ${table} WHERE expires_at <= clock_timestamp() ORDER BY expires_at LIMIT ${sweepBatch} FOR UPDATE SKIP LOCKED)`,
      )
      .catch(() => undefined);
  }

  async function acquire(transactionId: string, ttlMs: number, owner: string): Promise<boolean> {
    const ttl = Math.ceil(ttlMs);
    if (!Number.isSafeInteger(ttl) || ttl < 1) throw new Error('replay claim with an invalid lifetime');
    await ensureTable();
    let client: PostgresPoolClient | null = null;
    let broken = false;
    const connecting = pool.connect();
    try {
      client = await bounded(connecting, () => {
        // A connection that arrives after the deadline goes back to the pool unused.
        connecting.then(
          (late) => late.release(),
          () => undefined,
        );
      });
      const c = client;
      c.on?.('error', ignore);
      const rows = await bounded(
        (async () => {
          // Durable before OK, whatever the server's or role's default; bounded on the server too.
          await c.query(`BEGIN; SET LOCAL synchronous_commit TO on; SET LOCAL statement_timeout TO ${timeoutMs}`);
          // The store's own clock counts the lifetime. An expired row is taken over in the same statement.
          const result = await c.query(
            `INSERT INTO ${table} AS t (transaction_id, owner, expires_at) VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond')
ON CONFLICT (transaction_id) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at WHERE t.expires_at <= clock_timestamp()`,
            [transactionId.toLowerCase(), owner, ttl],
          );
          await c.query('COMMIT');
          return result.rowCount;
        })(),
        () => {
          broken = true;
          c.release(new Error('replay claim deadline'));
        },
      );
      client.off?.('error', ignore);
      client.release();
      client = null;
      sweep();
      if (rows === 1) return true;
      if (rows === 0) return false;
      throw new Error('unexpected row count from the claim');
    } catch (err) {
      // The outcome of the transaction is unknown (COMMIT may or may not have happened): drop the
      // connection, and let the verifier release the claim by its owner.
      if (client !== null && !broken) client.release(err instanceof Error ? err : new Error('replay claim failed'));
      throw err;
    }
  }

  async function release(transactionId: string, owner: string): Promise<boolean> {
    await ensureTable();
    const result = await bounded(
      pool.query(`DELETE FROM ${table} WHERE transaction_id = $1 AND owner = $2`, [transactionId.toLowerCase(), owner]),
      () => undefined,
    );
    return result.rowCount === 1;
  }

  return {
    acquire,
    release,
    /** Creates the table if needed and checks the connection: call it at boot. */
    async ready(): Promise<void> {
      try {
        await ensureTable();
        await bounded(pool.query('SELECT 1'), () => undefined);
      } catch {
        throw new ApplePayError('REPLAY_STORE_UNAVAILABLE', 'the PostgreSQL replay store could not be reached or prepared');
      }
    },
  };
}
