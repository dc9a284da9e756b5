// examples/server against misbehaving clients, on raw sockets: one that aborts mid-body (its own log
// outcome, not INTERNAL), one that sends headers or a body too slowly (timeouts), too many connections
// (a cap), and one that keeps sending an oversized body (it still reads the 400).
import type { AddressInfo } from 'node:net';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { createPaymentServer, type LogEntry, type PaymentServerOptions } from '../../examples/server/app.js';
import { testVerifier } from '../support/helpers.js';

const verifier = testVerifier();
const open: { close(): Promise<void> }[] = [];

async function listen(options: Partial<PaymentServerOptions> = {}): Promise<{ port: number; log: LogEntry[] }> {
  const log: LogEntry[] = [];
  const server = createPaymentServer({ verifier, log: (e) => log.push(e), ...options });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  open.push({
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return { port: (server.address() as AddressInfo).port, log };
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

interface Conn {
  socket: Socket;
  received: () => string;
  closed: Promise<number>;
}

function dial(port: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (chunk) => (data += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - start)));
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('example server limits', () => {
  test('a client aborting mid-body is logged as CLIENT_ABORTED, not INTERNAL', async () => {
    const { port, log } = await listen();
    const c = await dial(port);
    c.socket.write('POST /payments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"version":');
    await new Promise((r) => setTimeout(r, 50));
    c.socket.destroy();
    await until(() => log.length === 1);
    expect(log[0]).toMatchObject({ code: 'CLIENT_ABORTED', status: 0 });
  });

  test('headers that never finish are answered 408 and closed after headersTimeoutMs', async () => {
    const { port } = await listen({ headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const c = await dial(port);
    c.socket.write('POST /payments HTTP/1.1\r\nHost: x\r\n');
    const ms = await Promise.race([c.closed, new Promise<number>((r) => setTimeout(() => r(-1), 5000))]);
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThan(3000);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408/);
  });

  test('a body trickling past requestTimeoutMs is cut off and logged as REQUEST_TIMEOUT', async () => {
    const { port, log } = await listen({ headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const c = await dial(port);
    c.socket.write('POST /payments HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{');
    const timer = setInterval(() => c.socket.write(' '), 100);
    try {
      const ms = await Promise.race([c.closed, new Promise<number>((r) => setTimeout(() => r(-1), 5000))]);
      expect(ms).toBeGreaterThan(0);
      expect(ms).toBeLessThan(3000);
    } finally {
      clearInterval(timer);
    }
    await until(() => log.length === 1);
    expect(log[0]).toMatchObject({ code: 'REQUEST_TIMEOUT' });
  });

  test('connections beyond maxConnections are closed as they arrive', async () => {
    const { port } = await listen({ maxConnections: 2 });
    const held = [await dial(port), await dial(port)];
    const extra = await dial(port);
    const ms = await Promise.race([extra.closed, new Promise<number>((r) => setTimeout(() => r(-1), 3000))]);
    expect(ms).toBeGreaterThanOrEqual(0);
    // The held ones still work.
    held[0]!.socket.write('GET /payments HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => held[0]!.received().includes('405'));
    for (const h of held) h.socket.destroy();
  });

  for (const framing of ['content-length', 'chunked'] as const) {
    test(`a client that keeps sending an oversized body (${framing}) reads the 400 TOKEN_TOO_LARGE`, async () => {
      const { port, log } = await listen({ maxBodyBytes: 1024, discardMs: 1500 });
      const c = await dial(port);
      c.socket.write(
        framing === 'content-length'
          ? 'POST /payments HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n'
          : 'POST /payments HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
      );
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const framed =
        framing === 'chunked' ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]) : chunk;
      // Keep sending for a second without reading, as an HTTP client uploading a body does: the answer
      // waits in the receive buffer, where a reset from the server would discard it.
      c.socket.pause();
      const end = Date.now() + 1000;
      while (Date.now() < end && !c.socket.destroyed) {
        if (!c.socket.write(framed)) {
          await Promise.race([new Promise((r) => c.socket.once('drain', r)), c.closed, new Promise((r) => setTimeout(r, 100))]);
        }
      }
      c.socket.resume();
      await until(() => c.received().includes('TOKEN_TOO_LARGE') || c.socket.destroyed, 5000);
      expect(c.received()).toMatch(/^HTTP\/1\.1 400/);
      expect(c.received()).toContain('TOKEN_TOO_LARGE');
      expect(log[0]).toMatchObject({ status: 400, code: 'TOKEN_TOO_LARGE' });
      // And the server does close it, within the discard bound.
      const ms = await Promise.race([c.closed, new Promise<number>((r) => setTimeout(() => r(-1), 5000))]);
      expect(ms).toBeGreaterThan(0);
    });
  }
});
