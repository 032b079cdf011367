/**
 * A loopback TCP proxy that delays every reply: a Redis that answers slowly (issue 12.8), without touching
 * Redis itself.
 *
 *   const proxy = await startLatencyProxy({ targetPort: redis.port, replyDelayMs: 200 });
 *   connectRedis('redis', proxy.url);   // every reply arrives replyDelayMs late, in order
 *   proxy.requests                      // chunks received from clients so far (a round trip each, for
 *                                       // a client that waits for one reply before it sends again)
 *   await proxy.close();
 *
 * Bytes from the client are forwarded at once; bytes from the server are held `replyDelayMs` (a timer per
 * chunk, order kept), so each round trip costs that much more.
 */
import { connect, createServer, type Socket } from 'node:net';
import { closeServer, listenOnLoopback } from './ports.js';

export interface LatencyProxy {
  readonly port: number;
  readonly url: string;
  /** Chunks received from clients so far. */
  readonly requests: number;
  replyDelayMs: number;
  close(): Promise<void>;
}

export async function startLatencyProxy(options: {
  targetPort: number;
  replyDelayMs: number;
}): Promise<LatencyProxy> {
  const sockets = new Set<Socket>();
  let requests = 0;
  const server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: options.targetPort });
    sockets.add(client);
    sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    client.on('data', (chunk) => {
      requests += 1;
      upstream.write(chunk);
    });
    // Replies keep their order: each is written after the one before it, replyDelayMs after it came.
    let previous = Promise.resolve();
    upstream.on('data', (chunk) => {
      const arrived = performance.now();
      previous = previous.then(async () => {
        const wait = arrived + api.replyDelayMs - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (!client.destroyed) client.write(chunk);
      });
    });
  });
  const port = await listenOnLoopback(server);
  const api: LatencyProxy = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    replyDelayMs: options.replyDelayMs,
    async close() {
      for (const socket of sockets) socket.destroy();
      await closeServer(server);
    },
  };
  return api;
}
