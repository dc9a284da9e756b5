// The request handling of the example payment endpoint: POST /payments with the ApplePayPaymentToken
// that Apple Pay JS hands the page, verified, decrypted and claimed against replay, answered with what
// the payment processor call needs. main.ts wires it to environment variables.
//
// In your service, import from 'applepay-verify'; the example imports the sources so that it runs
// from a checkout without a build.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { isApplePayError, type ErrorCode, type Result, type Verifier } from '../../lib/index.js';

/**
 * One status per code family. A Record over every ErrorCode, so that a code added to the library does
 * not compile here until someone decides how the endpoint answers it.
 */
export const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = {
  // The request is not an Apple Pay token we can read: the client sent something else.
  TOKEN_MALFORMED: 400,
  TOKEN_TOO_LARGE: 400,
  UNSUPPORTED_VERSION: 400,
  // A well-formed token that fails a check: the payment is refused.
  SIGNATURE_MALFORMED: 422,
  SIGNATURE_INVALID: 422,
  SIGNING_TIME_MISSING: 422,
  SIGNING_TIME_TOO_OLD: 422,
  SIGNING_TIME_IN_FUTURE: 422,
  LEAF_CERT_INVALID: 422,
  INTERMEDIATE_CERT_INVALID: 422,
  CHAIN_UNTRUSTED: 422,
  CERT_EXPIRED: 422,
  MERCHANT_KEY_NOT_FOUND: 422,
  EPHEMERAL_KEY_INVALID: 422,
  DECRYPTION_FAILED: 422,
  PAYLOAD_INVALID: 422,
  // Already accepted once: the client must not be charged again.
  REPLAY_DETECTED: 409,
  // Nothing is known about the token's freshness: the client may retry later.
  REPLAY_STORE_UNAVAILABLE: 503,
  // Our fault, not the token's. Configuration codes only occur at boot, but a handler must map them too.
  INTERNAL: 500,
  CONFIG_INVALID: 500,
  MERCHANT_CERT_INVALID: 500,
  MERCHANT_KEY_INVALID: 500,
  ROOT_CERT_INVALID: 500,
};

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
}

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

const jsonLine = (entry: LogEntry): void => {
  process.stdout.write(`${JSON.stringify(entry)}\n`);
};

class BodyTooLarge extends Error {}

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
        req.pause();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
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
    try {
      body = await readBody(req, maxBodyBytes);
    } catch (err) {
      if (!(err instanceof BodyTooLarge)) throw err;
      // The rest of the body is not read, so this connection cannot carry another request.
      send(res, 400, { code: 'TOKEN_TOO_LARGE', message: `request body exceeds ${maxBodyBytes} bytes` }, { connection: 'close' });
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

  return createServer((req, res) => {
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
        log({ time: new Date().toISOString(), method: req.method, path, ...entry, ms: Math.round((performance.now() - start) * 10) / 10 });
      })
      .catch(() => undefined);
  });
}
