// The request handling of the example payment endpoint: POST /payments with the ApplePayPaymentToken
// that Apple Pay JS hands the page, verified, decrypted and claimed against replay, answered with what
// the payment processor call needs. main.ts wires it to environment variables.
//
// In your service, import from 'applepay-verify'; the example imports the sources so that it runs
// from a checkout without a build.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { ERROR_CODES, httpStatus, isApplePayError, type ErrorCode, type Result, type Verifier } from '../../lib/index.js';

/**
 * One status per code family, from the library's own table (lib/errors.ts), so that the endpoint and
 * the library cannot disagree about which codes a client may retry.
 */
export const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = Object.freeze(
  Object.fromEntries(ERROR_CODES.map((code) => [code, httpStatus(code)])) as Record<ErrorCode, number>,
);

/** The fields a payment processor's network-token authorization takes. Secret: send it, never log it. */
export interface ProcessorRequest {
  transactionId: string;
  version: Result['version'];
  paymentDataType: '3DSecure' | 'EMV';
  /** Device PAN (DPAN), or the merchant token's MPAN. */
  pan: string;
  /** YYMMDD. */
  expiry: string;
  /** Minor units, as in the token. */
  amount: number;
  /** ISO 4217 numeric. */
  currency: string;
  /** 3DSecure: onlinePaymentCryptogram, base64. */
  cryptogram?: string;
  /** 3DSecure: eciIndicator, when Apple sends one. */
  eci?: string;
  /** EMV: emvData, base64. */
  emvData?: string;
  /** EMV: encryptedPINData, hex, when present. */
  encryptedPINData?: string;
  cardholderName?: string;
}

export function processorRequest(result: Result): ProcessorRequest {
  const { payment } = result;
  const request: ProcessorRequest = {
    transactionId: result.transactionId,
    version: result.version,
    paymentDataType: payment.paymentDataType,
    pan: payment.applicationPrimaryAccountNumber,
    expiry: payment.applicationExpirationDate,
    amount: payment.transactionAmount,
    currency: payment.currencyCode,
  };
  if (payment.paymentDataType === '3DSecure') {
    request.cryptogram = payment.paymentData.onlinePaymentCryptogram;
    if (payment.paymentData.eciIndicator !== undefined) request.eci = payment.paymentData.eciIndicator;
  } else {
    request.emvData = payment.paymentData.emvData;
    if (payment.paymentData.encryptedPINData !== undefined) request.encryptedPINData = payment.paymentData.encryptedPINData;
  }
  if (payment.cardholderName !== undefined) request.cardholderName = payment.cardholderName;
  return request;
}

export type LogEntry = Record<string, string | number | boolean | undefined>;

export interface PaymentServerOptions {
  verifier: Verifier;
  /** Largest request body read, in bytes. Default 65536, the verifier's default token cap. */
  maxBodyBytes?: number;
  /** One entry per request. Default: a JSON line on stdout. */
  log?: (entry: LogEntry) => void;
  /** Milliseconds a client has to send its request headers (answered 408 after). Default 10,000. */
  headersTimeoutMs?: number;
  /** Milliseconds a client has to send its whole request. Default 30,000. */
  requestTimeoutMs?: number;
  /** Connections held at once; more are closed as they arrive. Default 1024. */
  maxConnections?: number;
  /**
   * After refusing an oversized body, how long the rest is read and thrown away so that the client,
   * still sending, reads the 400 instead of a reset. Default 2000 ms.
   */
  discardMs?: number;
}

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

const jsonLine = (entry: LogEntry): void => {
  process.stdout.write(`${JSON.stringify(entry)}\n`);
};

class BodyTooLarge extends Error {}
/** The client went away (or was timed out) before its body was complete: no verdict, no answer. */
class ClientAborted extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        // Stop buffering at once: a chunked body has no declared length to refuse up front.
        req.off('data', onData);
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, size)));
    req.once('error', () => reject(new ClientAborted()));
    req.once('close', () => {
      if (!req.complete) reject(new ClientAborted());
    });
  });
}

/**
 * Answers now, then reads and throws away what the client is still sending, for a bounded time, before
 * closing (the connection cap bounds how many do this at once). Closing at once would reset a connection with unread data, and a client still
 * sending would see the reset instead of the answer.
 */
function sendAndDiscard(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, discardMs: number): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    connection: 'close',
  });
  // The whole answer goes out now (its length is declared); end() comes once the client stops sending.
  res.write(text);
  const finish = (): void => {
    clearTimeout(timer);
    req.off('data', discard);
    if (!res.writableEnded) res.end();
  };
  const discard = (): void => undefined;
  const timer = setTimeout(() => {
    finish();
    req.socket.destroy();
  }, discardMs);
  req.on('data', discard);
  req.once('end', finish);
  req.once('close', finish);
  req.resume();
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    // The success body carries the PAN and cryptogram: no cache anywhere may keep it.
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

function pathOf(url: string | undefined): string {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return '(unparsable)';
  }
}

export function createPaymentServer(options: PaymentServerOptions): Server {
  const { verifier } = options;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = options.log ?? jsonLine;
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  const discardMs = options.discardMs ?? 2000;

  async function handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<LogEntry> {
    if (path !== '/payments') {
      send(res, 404, { code: 'NOT_FOUND', message: 'POST an Apple Pay token to /payments' });
      return { status: 404, code: 'NOT_FOUND' };
    }
    if (req.method !== 'POST') {
      send(res, 405, { code: 'METHOD_NOT_ALLOWED', message: 'use POST' }, { allow: 'POST' });
      return { status: 405, code: 'METHOD_NOT_ALLOWED' };
    }

    let body: Buffer;
    const started = performance.now();
    try {
      body = await readBody(req, maxBodyBytes);
    } catch (err) {
      if (err instanceof ClientAborted) {
        // Nobody to answer. Its own outcome in the log: a client problem, not a server fault.
        const timedOut = performance.now() - started >= requestTimeout - 50;
        return { status: 0, code: timedOut ? 'REQUEST_TIMEOUT' : 'CLIENT_ABORTED' };
      }
      if (!(err instanceof BodyTooLarge)) throw err;
      // The rest of the body is not kept, so this connection cannot carry another request.
      sendAndDiscard(req, res, 400, { code: 'TOKEN_TOO_LARGE', message: `request body exceeds ${maxBodyBytes} bytes` }, discardMs);
      return { status: 400, code: 'TOKEN_TOO_LARGE', limit: maxBodyBytes };
    }

    let result: Result;
    try {
      // The raw bytes go to the verifier: its JSON reader refuses duplicate and prototype keys, which
      // JSON.parse would quietly resolve.
      result = await verifier.verifyAndDecrypt(body);
    } catch (err) {
      if (!isApplePayError(err)) throw err;
      const status = STATUS_BY_CODE[err.code];
      // Messages and details are written to be safe for clients and logs: no token bytes, no secrets.
      send(res, status, { code: err.code, message: err.message }, status === 503 ? { 'retry-after': '1' } : {});
      return { status, code: err.code, field: err.details.field };
    }

    const request = processorRequest(result);
    // Here a real service would compare amount and currency with the order, check applicationData,
    // then call its processor. The example hands the call's fields back instead.
    send(res, 200, request);
    return {
      status: 200,
      code: 'OK',
      version: request.version,
      transactionId: request.transactionId,
      // PCI DSS allows the last four digits; the cryptogram and the rest of the PAN never reach a log.
      panLast4: request.pan.slice(-4),
      amount: request.amount,
      currency: request.currency,
      paymentDataType: request.paymentDataType,
    };
  }

  const server = createServer(
    {
      // Slow clients hold connections: bound how long headers and the whole request may take, and check
      // often enough that the bounds hold (Node checks every 30 s by default).
      headersTimeout,
      requestTimeout,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4))),
    },
    (req, res) => {
      const start = performance.now();
      // The path alone: a query string is the client's to fill and has no place in our logs.
      const path = pathOf(req.url);
      handle(req, res, path)
        .catch((): LogEntry => {
          // Whatever it was, its text may quote the request: log and answer only the code.
          if (!res.headersSent) send(res, 500, { code: 'INTERNAL', message: 'internal error' });
          return { status: 500, code: 'INTERNAL' };
        })
        .then((entry) => {
          log({
            time: new Date().toISOString(),
            method: req.method,
            path,
            ...entry,
            ms: Math.round((performance.now() - start) * 10) / 10,
          });
        })
        .catch(() => undefined);
    },
  );
  server.maxConnections = options.maxConnections ?? 1024;
  server.keepAliveTimeout = 5000;
  return server;
}
