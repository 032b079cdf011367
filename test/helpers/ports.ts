/**
 * Loopback port helpers.
 *
 *   getFreePort(): Promise<number>  a port that was free on 127.0.0.1 a moment ago (listen on 0, close).
 *     Only for programs that cannot listen on port 0 themselves (redis-server); Node servers should
 *     `listen(0, '127.0.0.1')` and read `address().port` instead.
 *   listenOnLoopback(server): Promise<number>  `server.listen(0, '127.0.0.1')`, resolves to the port.
 *   closeServer(server): Promise<void>  closes the server and drops its keep-alive connections.
 *   refusedUrl(path): Promise<string>  an http://127.0.0.1 URL on a port nobody listens on (ECONNREFUSED).
 */
import type { Server as HttpServer } from 'node:http';
import { createServer, type Server as NetServer } from 'node:net';

export function getFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('no port assigned'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

export function listenOnLoopback(server: NetServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      const address = server.address();
      if (address === null || typeof address === 'string') {
        reject(new Error('no port assigned'));
        return;
      }
      resolve(address.port);
    });
  });
}

export function closeServer(server: NetServer | HttpServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    if ('closeAllConnections' in server) server.closeAllConnections();
  });
}

/** An `http://127.0.0.1:PORT/path` URL on a port nobody listens on: connecting is refused. */
export async function refusedUrl(path = '/token'): Promise<string> {
  return `http://127.0.0.1:${await getFreePort()}${path}`;
}
