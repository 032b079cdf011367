/**
 * client.close() and [Symbol.asyncDispose] (issue 18.8): later calls reject with M2M_CLIENT_CLOSED;
 * token requests still under way are abandoned (their callers reject with the same code, at once);
 * stores already under way are awaited; the mTLS Agent the client made is closed, a given dispatcher
 * is not.
 */
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { Agent } from 'undici';
import { describe, expect, it, vi } from 'vitest';
import { type CachedToken, ClientCredentialsClient, ErrorCode, type TokenCache } from '../src/index.js';
import { getTestCertificates, haveOpenssl, opensslMissingMessage } from './helpers/certs.js';
import { testClient } from './helpers/clients.js';
import { closeServer, listenOnLoopback } from './helpers/ports.js';
import { fakeTokenEndpoint } from './helpers/token-endpoint.js';

const closed = { code: ErrorCode.CLIENT_CLOSED, name: 'M2MTokenError' };

describe('client.close()', () => {
  it('every later call rejects with M2M_CLIENT_CLOSED, cached token or not; close() is idempotent', async () => {
    const endpoint = fakeTokenEndpoint();
    const client = testClient({ fetch: endpoint.fetch });
    await client.getToken();
    await client.close();
    await client.close();
    await expect(client.getToken()).rejects.toMatchObject(closed);
    await expect(client.getToken({ audience: 'other' })).rejects.toMatchObject(closed);
    await expect(client.getToken({ forceRefresh: true })).rejects.toMatchObject(closed);
    await expect(client.fetch('https://api.example.com/')).rejects.toMatchObject(closed);
    await expect(client.invalidate()).rejects.toMatchObject(closed);
    await expect(client.clear()).rejects.toMatchObject(closed);
    expect(endpoint.count).toBe(1);
  });

  it('abandons a token request under way: its callers reject at once, the request is aborted', async () => {
    let aborted: unknown;
    const endpoint = fakeTokenEndpoint({ latencyMs: 60_000 });
    const fetch = ((input: string, init?: RequestInit) => {
      init?.signal?.addEventListener('abort', () => {
        aborted = init.signal?.reason;
      });
      return endpoint.fetch(input, init);
    }) as typeof globalThis.fetch;
    const client = testClient({ fetch });
    const waiting = Array.from({ length: 5 }, () => client.getToken());
    await vi.waitFor(() => expect(endpoint.count).toBe(1));
    await client.close(); // without the abort, the callers would wait out the 60 s request
    for (const call of waiting) await expect(call).rejects.toMatchObject(closed);
    expect(aborted).toMatchObject(closed);
  });

  it('waits for a store already under way (the callers did not wait for it)', async () => {
    let finishStore: () => void = () => undefined;
    const stored: string[] = [];
    const cache: TokenCache = {
      get: async () => undefined,
      set: (_key: string, value: CachedToken) =>
        new Promise<void>((resolve) => {
          finishStore = () => {
            stored.push(value.token.accessToken);
            resolve();
          };
        }),
      delete: async () => undefined,
    };
    const client = testClient({ fetch: fakeTokenEndpoint().fetch, cache });
    // The caller has its token while the store is still pending.
    expect((await client.getToken()).accessToken).toBe('token-1');
    expect(stored).toEqual([]);
    let closedYet = false;
    const closing = client.close().then(() => {
      closedYet = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(closedYet).toBe(false);
    finishStore();
    await closing;
    expect(stored).toEqual(['token-1']);
  });

  it('[Symbol.asyncDispose] closes the client', async () => {
    const client = testClient({ fetch: fakeTokenEndpoint().fetch });
    await client[Symbol.asyncDispose]();
    await expect(client.getToken()).rejects.toMatchObject(closed);
  });

  it('leaves a dispatcher it was given open', async () => {
    const given = new Agent();
    const client = testClient({ fetch: fakeTokenEndpoint().fetch, dispatcher: given });
    await client.close();
    expect(given.closed).toBe(false);
    await given.close();
  });

  it.skipIf(!haveOpenssl)(
    `closes the mTLS Agent it made for tls_client_auth: the server sees its kept-alive connection end${haveOpenssl ? '' : ` (${opensslMissingMessage})`}`,
    async () => {
      const certs = await getTestCertificates();
      // Over loopback http the Agent still carries the request (its TLS options unused): what the
      // server observes is the Agent's kept-alive connection, held for a minute unless it is closed.
      const sockets: Socket[] = [];
      const server = createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ access_token: 'mtls-token', token_type: 'Bearer', expires_in: 3600 }));
        });
      });
      server.keepAliveTimeout = 60_000;
      server.on('connection', (socket) => sockets.push(socket));
      const port = await listenOnLoopback(server);
      try {
        const client = new ClientCredentialsClient({
          tokenEndpoint: `http://127.0.0.1:${port}/token`,
          clientId: 'svc',
          authMethod: 'tls_client_auth',
          certificate: certs.client.cert,
          privateKey: certs.client.key,
        });
        await client.getToken();
        expect(sockets).toHaveLength(1);
        expect(sockets[0]!.closed).toBe(false);
        await client.close();
        // Generous: only a connection left open (the server's minute) fails this.
        await vi.waitFor(() => expect(sockets[0]!.closed).toBe(true), { timeout: 10_000 });
      } finally {
        await closeServer(server);
      }
    },
  );
});
