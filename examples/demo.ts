/**
 * `npm run demo`: the Auth0 machine-to-machine sample (seed 003) end to end on this machine, with
 * m2m-token in the client's seat.
 *
 * It starts the development authorization server and the World Mappers API on free loopback ports,
 * runs the Gift Deliveries client (examples/gift-deliveries) against them and narrates every step:
 * the token request, a call served from the cache, a route the client may use, one it may not (403),
 * a key rotation handled by the SDK's 401 retry, a second client using private_key_jwt, and a workload
 * with no secret and no key of its own that authenticates with its cluster's projected service-account
 * token (workload identity federation), through a rotation of that token file.
 * Everything is closed at the end; the exit code is 0 when every step went as described, else 1.
 *
 * Nothing here prints a secret or a whole access token: tokens are shown as their first characters
 * and their decoded claims.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import type { TokenEvent } from 'm2m-token';
import { type AuthServer, startAuthServer, type TokenIssuedEvent } from './auth-server/server.js';
import { configFromEnv, GiftDeliveries, WorldMappersApiError } from './gift-deliveries/client.js';
import { createRoutePlannerClient } from './private-key-jwt/route-planner.js';
import { type Cluster, startCluster } from './workload-identity/cluster.js';
import { createLabelPrinterClient } from './workload-identity/label-printer.js';
import { ProjectedTokenVolume } from './workload-identity/projected-token.js';
import { startWorldMappersApi, type WorldMappersApi } from './worldmappers-api/server.js';

const AUTH_SERVER_CONFIG = new URL('./auth-server/config.json', import.meta.url);
const ROUTE_PLANNER_KEY = new URL('./auth-server/keys/route-planner.private.pem', import.meta.url);
const AUDIENCE = 'urn:worldmappers';

// ---------------------------------------------------------------------------------------------
// Narration

function step(n: number, title: string): void {
  console.log(`\n${n}) ${title}`);
}

function say(line: string): void {
  console.log(`   ${line}`);
}

/** Fails the demo when a step did not go as described. */
function expectThat(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`unexpected: ${what}`);
}

function seconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 3600 ? `${s} s (${Number((s / 3600).toFixed(1))} h)` : `${s} s`;
}

/** Tokens are identified by number in the output; their text is never printed whole. */
const tokenNumbers = new Map<string, number>();

function describeToken(accessToken: string): string {
  let claims: Record<string, unknown> = {};
  try {
    claims = decodeJwt(accessToken);
  } catch {
    // Not a JWT: an opaque token is shown by its first characters only.
  }
  const id = typeof claims.jti === 'string' ? claims.jti : accessToken.slice(-16);
  let n = tokenNumbers.get(id);
  if (n !== undefined) return `token #${n}`;
  n = tokenNumbers.size + 1;
  tokenNumbers.set(id, n);
  const exp = typeof claims.exp === 'number' ? new Date(claims.exp * 1000).toISOString() : '?';
  say(
    `  token #${n} (new): ${accessToken.slice(0, 12)}…  sub ${claims.sub}, aud ${claims.aud}, ` +
      `scope "${claims.scope}", exp ${exp}`,
  );
  return `token #${n}`;
}

/** The SDK's own account of what it does, from the `onEvent` hook. */
function narrateTokenEvent(event: TokenEvent): void {
  switch (event.type) {
    case 'cache_miss':
      say(`[m2m-token] no usable cached token for ${event.key.audience} (${event.reason}): requesting one`);
      break;
    case 'cache_hit': {
      const left = event.expiresAt ? `, valid for another ${seconds(event.expiresAt - Date.now())}` : '';
      say(`[m2m-token] cache hit${left}: no token request`);
      break;
    }
    case 'token_request_success': {
      const life = event.expiresAt
        ? `lifetime ${seconds(event.expiresAt - Date.now())}`
        : 'no stated lifetime';
      say(
        `[m2m-token] token request: ${event.authMethod}, HTTP ${event.status} in ` +
          `${Math.round(event.durationMs)} ms (${event.attempts} attempt${event.attempts === 1 ? '' : 's'}), ${life}`,
      );
      break;
    }
    case 'token_request_failure':
      say(`[m2m-token] token request failed (${event.authMethod}): ${event.error.message}`);
      break;
    case 'token_request_retry':
      say(`[m2m-token] token request attempt ${event.attempt} failed, retrying in ${event.delayMs} ms`);
      break;
    case 'refresh_ahead_start':
      say('[m2m-token] refreshing the token ahead of its expiry, in the background');
      break;
    default:
      break;
  }
}

/** The ids of the cluster tokens the auth server accepted, in order (never the tokens). */
const federatedTokenIds: string[] = [];

function narrateTokenIssued(event: TokenIssuedEvent): void {
  const how = event.federated
    ? `a token of ${event.federated.issuer} for ${event.federated.subject} (token id ${event.federated.tokenId?.slice(0, 8)}…)`
    : event.authMethod;
  if (event.federated?.tokenId) federatedTokenIds.push(event.federated.tokenId);
  say(
    `[auth server] ${event.clientId} authenticated with ${how}; ` +
      `issued a token for ${event.audience}, scope "${event.scope}"`,
  );
}

/** Names of the parameters of a token request body, never their values. */
function parameterNames(body: unknown, contentType: string): string {
  try {
    if (typeof body === 'string') {
      const names = contentType.includes('json')
        ? Object.keys(JSON.parse(body) as object)
        : [...new URLSearchParams(body).keys()];
      return names.join(', ');
    }
    if (body instanceof URLSearchParams) return [...body.keys()].join(', ');
  } catch {
    // fall through
  }
  return 'a body';
}

interface HttpLog {
  apiStatuses: number[];
}

/**
 * A fetch that narrates each HTTP exchange (method, path, what matters in the headers) and then
 * does it with the global fetch. Handed to the SDK as its `fetch`, so the SDK's own requests show.
 */
function narratedFetch(log: HttpLog): typeof globalThis.fetch {
  return async (input, init) => {
    const request = input instanceof Request ? input : undefined;
    const url = new URL(request ? request.url : input instanceof URL ? input.href : String(input));
    const method = (init?.method ?? request?.method ?? 'GET').toUpperCase();
    const headers = new Headers(init?.headers ?? request?.headers);
    const authorization = headers.get('authorization') ?? '';
    const path = url.pathname + url.search;

    let isApi = false;
    if (/^bearer /i.test(authorization)) {
      isApi = true;
      say(`→ ${method} ${path}  (Authorization: Bearer ${describeToken(authorization.slice(7))})`);
    } else if (method === 'POST' && url.pathname.endsWith('/token')) {
      const contentType = headers.get('content-type') ?? '';
      const basic = /^basic /i.test(authorization) ? ' + Authorization: Basic' : '';
      say(
        `→ ${method} ${path}  (${contentType.split(';')[0]}: ${parameterNames(init?.body, contentType)}${basic})`,
      );
    } else if (url.pathname.startsWith('/.well-known/')) {
      say(`→ ${method} ${path}  (discovery of the issuer's metadata, RFC 8414)`);
    } else {
      say(`→ ${method} ${path}`);
    }

    const response = await globalThis.fetch(input, init);
    if (isApi) {
      log.apiStatuses.push(response.status);
      const challenge = response.headers.get('www-authenticate');
      say(
        `← ${response.status} ${response.statusText}${challenge ? `  WWW-Authenticate: ${challenge}` : ''}`,
      );
    }
    return response;
  };
}

// ---------------------------------------------------------------------------------------------
// The demo

async function readGiftDeliveriesSecret(): Promise<string> {
  const config = JSON.parse(await readFile(AUTH_SERVER_CONFIG, 'utf8')) as {
    clients: Array<{ clientId: string; clientSecret?: string }>;
  };
  const secret = config.clients.find((c) => c.clientId === 'gift-deliveries')?.clientSecret;
  if (!secret) throw new Error('examples/auth-server/config.json has no secret for gift-deliveries');
  return secret;
}

async function demo(auth: AuthServer, api: WorldMappersApi, cluster: Cluster): Promise<void> {
  const log: HttpLog = { apiStatuses: [] };
  const tokenRequests = () => auth.stats.tokenRequests;

  // Gift Deliveries is configured exactly as it would be for Auth0: from environment variables.
  const env = {
    AUTH0_TOKEN_ENDPOINT: auth.tokenEndpoint,
    AUTH0_CLIENT_ID: 'gift-deliveries',
    AUTH0_CLIENT_SECRET: await readGiftDeliveriesSecret(),
    RESOURCE_SERVER: AUDIENCE,
    WORLDMAPPERS_API_URL: api.url,
  };
  console.log('Gift Deliveries reads its configuration from the environment, as in the Auth0 sample:');
  for (const [name, value] of Object.entries(env)) {
    say(`${name}=${name === 'AUTH0_CLIENT_SECRET' ? '(set; never printed)' : value}`);
  }
  const config = configFromEnv(env);
  say(`client authentication: ${config.authMethod} (a JSON body, as the Auth0 sample sends it)`);
  const gifts = new GiftDeliveries(config, {
    onEvent: narrateTokenEvent,
    tokenFetch: narratedFetch(log),
    apiFetch: narratedFetch(log),
  });

  step(1, 'Geocode "Seattle, WA". The first call needs a token.');
  const seattle = await gifts.geocode('Seattle, WA');
  say(`= ${JSON.stringify(seattle)}  (fake coordinates derived from the address)`);
  expectThat(tokenRequests() === 1, `1 token request, saw ${tokenRequests()}`);

  step(2, 'Geocode "Bellevue, WA". The token comes from the cache.');
  const bellevue = await gifts.geocode('Bellevue, WA');
  say(`= ${JSON.stringify(bellevue)}`);
  expectThat(tokenRequests() === 1, `still 1 token request, saw ${tokenRequests()}`);
  say(`token requests at the auth server: ${tokenRequests()} (unchanged)`);

  step(3, 'List the delivery routes: GET /api/routes needs read:routes, which Gift Deliveries has.');
  const routes = await gifts.listRoutes();
  say(`= ${routes.length} routes: ${routes.map((r) => `#${r.id} ${r.from} -> ${r.to}`).join('; ')}`);

  step(4, 'Create a route: POST /api/routes needs write:routes, which Gift Deliveries was not granted.');
  try {
    await gifts.createRoute('Seattle, WA', 'Redmond, WA');
    throw new Error('unexpected: the API accepted a route from a client without write:routes');
  } catch (error) {
    if (!(error instanceof WorldMappersApiError)) throw error;
    expectThat(
      error.status === 403 && error.error === 'insufficient_scope',
      `403 insufficient_scope, got ${error.message}`,
    );
    say(
      `handled: 403 insufficient_scope (the route needs ${error.requiredScope}); Gift Deliveries carries on.`,
    );
    say('The token is valid, it lacks a scope (RFC 6750 3.1): the SDK asked for no new token.');
  }
  expectThat(tokenRequests() === 1, `still 1 token request, saw ${tokenRequests()}`);
  say(`token requests at the auth server: ${tokenRequests()} (unchanged)`);

  step(5, 'The auth server rotates its signing key: the cached token no longer verifies at the API.');
  await auth.rotateKeys();
  say('[auth server] signing key rotated; tokens signed before no longer verify');
  const before = tokenRequests();
  const apiCallsBefore = log.apiStatuses.length;
  const redmond = await gifts.geocode('Redmond, WA');
  say(`= ${JSON.stringify(redmond)}`);
  const statuses = log.apiStatuses.slice(apiCallsBefore);
  expectThat(statuses.join(',') === '401,200', `a 401 then a 200, saw ${statuses.join(',')}`);
  expectThat(
    tokenRequests() === before + 1,
    `exactly one more token request, saw ${tokenRequests() - before}`,
  );
  say(
    '401 retry: the SDK dropped the rejected token, got a new one and retried once; the caller saw the 200.',
  );
  say(`token requests at the auth server: ${tokenRequests()} (+1)`);

  step(6, 'Route Planner, a second client, authenticates with private_key_jwt (RFC 7523): no shared secret.');
  const planner = createRoutePlannerClient({
    issuer: auth.issuer,
    clientId: 'route-planner',
    privateKeyPem: await readFile(ROUTE_PLANNER_KEY, 'utf8'),
    keyId: 'route-planner-dev-1',
    audience: AUDIENCE,
    scope: 'read:routes write:routes',
    onEvent: narrateTokenEvent,
    fetch: narratedFetch(log),
  });
  const plannerFetch = planner.createFetch({ allowedOrigins: [new URL(api.url).origin] });
  const created = await plannerFetch(`${api.url}/api/routes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ from: 'Tacoma, WA', to: 'Olympia, WA' }),
  });
  expectThat(created.status === 201, `201 Created, got ${created.status}`);
  say(`= ${JSON.stringify(await created.json())}`);

  step(
    7,
    'Label Printer runs in a cluster with no secret and no key of its own: its credential is the service-account token the cluster projects into a file (workload identity federation, RFC 7523).',
  );
  const volumeDir = await mkdtemp(join(tmpdir(), 'm2m-token-demo-'));
  try {
    const volume = new ProjectedTokenVolume(join(volumeDir, 'tokens'));
    const serviceAccountToken = () =>
      cluster.issueServiceAccountToken({
        namespace: 'shipping',
        serviceAccount: 'label-printer',
        audience: auth.issuer, // the projected volume's audience: this authorization server
      });
    await volume.write(await serviceAccountToken());
    say(`kubelet wrote ${volume.path} (a symlink to ..data/token), signed by the cluster ${cluster.issuer}:`);
    say(`sub ${cluster.subjectOf('shipping', 'label-printer')}, aud ${auth.issuer}, valid for an hour`);
    say(`the auth server trusts that issuer (its JWKS: ${cluster.jwksUri}) for the client label-printer`);
    const printer = createLabelPrinterClient({
      tokenEndpoint: auth.tokenEndpoint,
      clientId: 'label-printer',
      tokenFile: volume.path,
      audience: AUDIENCE,
      scope: 'read:routes',
      onEvent: narrateTokenEvent,
      fetch: narratedFetch(log),
    });
    const printerFetch = printer.createFetch({ allowedOrigins: [new URL(api.url).origin] });
    const listed = await printerFetch(`${api.url}/api/routes`);
    expectThat(listed.status === 200, `200 OK, got ${listed.status}`);
    const { routes } = (await listed.json()) as { routes: unknown[] };
    say(`= ${routes.length} routes, with the cluster's token as the only credential`);

    say(
      'kubelet rotates the token: a new one in a new directory, then one atomic swap of the ..data symlink.',
    );
    await volume.write(await serviceAccountToken());
    await printer.invalidate(); // as if the access token had expired: the next call asks again
    const again = await printerFetch(`${api.url}/api/routes`);
    expectThat(again.status === 200, `200 OK after the rotation, got ${again.status}`);
    expectThat(
      federatedTokenIds.length === 2 && federatedTokenIds[0] !== federatedTokenIds[1],
      `the auth server saw two different cluster tokens, saw ${federatedTokenIds.length}`,
    );
    say('the next token request read the new file: no restart, no secret, no key.');
    await printer.close();
  } finally {
    await rm(volumeDir, { recursive: true, force: true });
  }

  const { tokenRequests: total, tokensIssued, tokenErrors } = auth.stats;
  console.log('\nSummary');
  say(`auth server: ${total} token requests, ${tokensIssued} tokens issued, ${tokenErrors} refused`);
  const counts = new Map<number, number>();
  for (const status of log.apiStatuses) counts.set(status, (counts.get(status) ?? 0) + 1);
  say(
    `World Mappers API: ${log.apiStatuses.length} requests (` +
      [...counts].map(([status, n]) => `${n} × ${status}`).join(', ') +
      ')',
  );
}

async function main(): Promise<void> {
  console.log('m2m-token demo: the Auth0 machine-to-machine sample, on this machine\n');
  let auth: AuthServer | undefined;
  let api: WorldMappersApi | undefined;
  let cluster: Cluster | undefined;
  let failure: { error: unknown } | undefined;
  try {
    cluster = await startCluster();
    auth = await startAuthServer({
      port: 0,
      log: false,
      onTokenIssued: narrateTokenIssued,
      // Workload identity: the auth server trusts the cluster's service-account tokens.
      trustedIssuers: [{ issuer: cluster.issuer, jwksUri: cluster.jwksUri }],
    });
    api = await startWorldMappersApi({ issuer: auth.issuer, audience: AUDIENCE });
    console.log(`auth server        ${auth.issuer}  (development only; signs RS256 access tokens)`);
    console.log(
      `World Mappers API  ${api.url}  (checks signature, iss, aud ${AUDIENCE} and the scope per route)\n`,
    );
    console.log(
      `cluster            ${cluster.url}  (development only; signs service-account tokens as ${cluster.issuer})`,
    );
    await demo(auth, api, cluster);
  } catch (error) {
    failure = { error };
  }
  // Close whatever was started, even after a failure, so that no server outlives the demo.
  const closing = await Promise.allSettled([api?.close(), auth?.close(), cluster?.close()]);
  if (failure) throw failure.error;
  const notClosed = closing.find((result) => result.status === 'rejected');
  if (notClosed) throw notClosed.reason;
  console.log('\nServers closed.');
}

main().then(
  () => {
    console.log('Demo finished: every step went as described.');
    process.exitCode = 0;
    exitIfStillAlive();
  },
  (error: unknown) => {
    console.error(
      `\nDemo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    process.exitCode = 1;
    exitIfStillAlive();
  },
);

/**
 * The demo should end by itself: nothing it started (servers, sockets, timers) may outlive it. Should
 * something keep the event loop alive anyway, say so and exit rather than hang. The timer is unref'd,
 * so it never keeps the process alive itself.
 */
function exitIfStillAlive(): void {
  setTimeout(() => {
    console.error('Something kept the process alive after the demo ended; exiting.');
    process.exit(1);
  }, 5_000).unref();
}
