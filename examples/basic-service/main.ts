/**
 * A plain service that calls getToken() and sets the Authorization header itself: the way to go
 * with an HTTP client other than fetch (axios, got, a gRPC channel, a message queue).
 *
 *   npx tsx --tsconfig examples/tsconfig.json --env-file=examples/basic-service/dev.env \
 *     examples/basic-service/main.ts
 *
 * Environment (the names the m2m-token CLI reads too): M2M_TOKEN_ENDPOINT, M2M_CLIENT_ID,
 * M2M_CLIENT_SECRET, M2M_AUDIENCE, optional M2M_SCOPE (space separated), and WORLDMAPPERS_API_URL.
 */
import { ClientCredentialsClient, OAuthError } from 'm2m-token';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`Set the environment variable ${name}`);
  return value;
}

// One client per process, created at startup: it keeps the token cache.
const client = new ClientCredentialsClient({
  tokenEndpoint: env('M2M_TOKEN_ENDPOINT'),
  clientId: env('M2M_CLIENT_ID'),
  clientSecret: env('M2M_CLIENT_SECRET'), // client_secret_basic, the RFC 6749 2.3.1 default
  audience: env('M2M_AUDIENCE'),
  ...(process.env.M2M_SCOPE ? { scope: process.env.M2M_SCOPE } : {}),
});

/** GET a path of the API with a token; on a 401 drop the token and try once more with a new one. */
async function callApi(path: string): Promise<unknown> {
  const url = new URL(path, env('WORLDMAPPERS_API_URL'));
  for (let attempt = 1; ; attempt++) {
    const token = await client.getToken(); // cached until shortly before it expires
    const res = await fetch(url, { headers: { authorization: `${token.tokenType} ${token.accessToken}` } });
    // RFC 6750 3.1: a 401 invalid_token means this token is no good any more (revoked, key rotated).
    if (res.status === 401 && attempt === 1) {
      await res.body?.cancel();
      await client.invalidate();
      continue;
    }
    if (!res.ok) throw new Error(`${url.pathname} answered ${res.status}`);
    return res.json();
  }
}

async function main(): Promise<void> {
  const token = await client.getToken();
  const lifetime = token.expiresAt ? Math.round((token.expiresAt - Date.now()) / 1000) : undefined;
  // Never log the token itself.
  console.log(`token: ${token.tokenType}, scope "${token.scope ?? ''}", expires in ${lifetime ?? '?'} s`);

  const { routes } = (await callApi('/api/routes')) as { routes: Array<{ from: string; to: string }> };
  console.log(`routes: ${routes.map((r) => `${r.from} -> ${r.to}`).join('; ')}`);

  const again = await client.getToken();
  console.log(
    `second getToken(): ${again.accessToken === token.accessToken ? 'the same token, from the cache' : 'a new token'}`,
  );
}

main().catch((error: unknown) => {
  if (error instanceof OAuthError) {
    // RFC 6749 5.2: e.g. invalid_client (wrong secret), access_denied (no grant for this audience).
    console.error(`token request refused: ${error.status} ${error.error} ${error.errorDescription ?? ''}`);
  } else {
    console.error(error instanceof Error ? error.message : error);
  }
  process.exitCode = 1;
});
