// A TCP proxy on loopback for the replay-store failure tests: it forwards both ways, and on demand
// delays the replies (in order), or lets requests through and then resets the connection before the
// reply comes back (the claim is applied, its answer lost).
import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyMode =
  | { kind: 'pass' }
  /** Every reply chunk is held this long before it is passed on; order is kept. */
  | { kind: 'delay'; ms: number }
  /** Replies are silently discarded: the link looks alive and nothing arrives (a partition). */
  | { kind: 'blackhole' }
  /** Requests pass; the next `times` replies are dropped and their connections reset. */
  | { kind: 'reset-after-request'; times: number };

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
  let mode: ProxyMode = { kind: 'pass' };
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    // Replies waiting to be delivered, each with its time; one timer drains them in order.
    const queue: { at: number; chunk: Buffer }[] = [];
    let timer: NodeJS.Timeout | null = null;
    const pump = (): void => {
      timer = null;
      while (queue.length > 0 && queue[0]!.at <= Date.now()) {
        const { chunk } = queue.shift()!;
        if (!client.destroyed) client.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(pump, queue[0]!.at - Date.now());
    };
    const drop = (): void => {
      if (timer !== null) clearTimeout(timer);
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
    upstream.on('data', (chunk: Buffer) => {
      if (mode.kind === 'reset-after-request' && mode.times > 0) {
        mode = { ...mode, times: mode.times - 1 };
        resets++;
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      if (mode.kind === 'blackhole') return;
      const delay = mode.kind === 'delay' ? mode.ms : 0;
      const last = queue.length > 0 ? queue[queue.length - 1]!.at : 0;
      queue.push({ at: Math.max(Date.now() + delay, last), chunk });
      if (timer === null) pump();
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
      return mode;
    },
    set mode(next: ProxyMode) {
      mode = next;
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
