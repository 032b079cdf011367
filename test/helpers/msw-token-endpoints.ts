/**
 * Token endpoints behind the global `fetch`, answered by msw: each on a host of its own
 * (`https://<name>-<n>.auth.localhost`), since a Retry-After pause is per endpoint and process-wide.
 * Call once at the top of a test file: it installs msw's hooks (listen, reset after each test, close).
 *
 *   const endpoints = mswTokenEndpoints('request');
 *   const { url, requests } = endpoints.add((request, n) => (n < 3 ? new HttpResponse(null, { status: 503 }) : undefined));
 *   requests            [{ method, url, headers, body, params, redirect, at }] in arrival order
 *   endpoints.never()   a response that stays pending until the test ends (a server that never answers)
 *   endpoints.server    msw's server, for handlers of other hosts
 *
 * A responder returning undefined answers with a token: `{ access_token: '<name>-token-<n>', token_type:
 * 'Bearer', expires_in: 3600 }`. Requests to a *.auth.localhost host that no endpoint of the running
 * test serves (one a test abandoned while it went on) get a 410; requests to 127.0.0.1 reach real
 * loopback servers; anything else is an error.
 */
import { HttpResponse, http } from 'msw';
import { type SetupServer, setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll } from 'vitest';

export interface MswRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Headers;
  readonly body: string;
  /** The form body's parameters. */
  readonly params: URLSearchParams;
  readonly redirect: RequestRedirect;
  /** Date.now() on arrival (exact under fake timers). */
  readonly at: number;
}

export type MswRespond = (
  request: MswRequest,
  n: number,
) => Response | undefined | Promise<Response | undefined>;

export interface MswTokenEndpoint {
  /** `https://<name>-<n>.auth.localhost/oauth/token` */
  readonly url: string;
  readonly requests: MswRequest[];
}

export interface MswTokenEndpoints {
  readonly server: SetupServer;
  /** A new endpoint on a host of its own, answering every request (any path) of that host. */
  add(respond?: MswRespond): MswTokenEndpoint;
  /** A response pending until the running test ends (then a 504). */
  never(): Promise<Response>;
}

export function mswTokenEndpoints(name: string): MswTokenEndpoints {
  const server = setupServer(
    http.all('https://*.auth.localhost/*', () =>
      HttpResponse.json({ error: 'abandoned_request' }, { status: 410 }),
    ),
  );
  const releases: Array<() => void> = [];
  beforeAll(() =>
    server.listen({
      onUnhandledRequest: (request, print) => {
        if (new URL(request.url).hostname !== '127.0.0.1') print.error();
      },
    }),
  );
  afterEach(() => {
    server.resetHandlers();
    for (const release of releases.splice(0)) release();
  });
  afterAll(() => server.close());

  let hosts = 0;
  return {
    server,
    add(respond) {
      const origin = `https://${name}-${++hosts}.auth.localhost`;
      const requests: MswRequest[] = [];
      server.use(
        http.all(`${origin}/*`, async ({ request }) => {
          const at = Date.now();
          const body = await request.text();
          const received: MswRequest = {
            method: request.method,
            url: new URL(request.url),
            headers: request.headers,
            body,
            params: new URLSearchParams(body),
            redirect: request.redirect,
            at,
          };
          requests.push(received);
          const n = requests.length;
          return (
            (await respond?.(received, n)) ??
            HttpResponse.json({ access_token: `${name}-token-${n}`, token_type: 'Bearer', expires_in: 3600 })
          );
        }),
      );
      return { url: `${origin}/oauth/token`, requests };
    },
    never() {
      return new Promise((resolve) => {
        releases.push(() => resolve(new HttpResponse(null, { status: 504 })));
      });
    },
  };
}
