// A TCP proxy on loopback for the replay-store failure tests: it forwards both ways, and on demand
// delays the replies, or lets requests through and then resets the connection before the reply comes
// back (the claim is applied, its answer lost).
import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyMode =
  | { kind: 'pass' }
  /** Every reply chunk waits this long before it is passed on. */
  | { kind: 'delay'; ms: number }
  /** Requests pass; the next reply is dropped and the client's connection reset. */
  | { kind: 'reset-after-request' };

export interface TcpProxy {
  readonly port: number;
  mode: ProxyMode;
  /** Connections reset so far. */
  readonly resets: number;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let resets = 0;
  const proxy: { mode: ProxyMode } = { mode: { kind: 'pass' } };
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.on('data', (chunk) => {
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      const mode = proxy.mode;
      if (mode.kind === 'reset-after-request') {
        // The request reached the server and was applied; its answer never reaches the client.
        resets++;
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      if (mode.kind === 'delay') {
        setTimeout(() => {
          if (!client.destroyed) client.write(chunk);
        }, mode.ms);
        return;
      }
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('proxy has no port');
  return {
    port: address.port,
    get mode() {
      return proxy.mode;
    },
    set mode(mode: ProxyMode) {
      proxy.mode = mode;
    },
    get resets() {
      return resets;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
