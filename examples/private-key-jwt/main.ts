/**
 * private_key_jwt from the command line: gets a token as the Route Planner client and creates a
 * delivery route (scope write:routes) at the World Mappers API.
 *
 *   npx tsx --tsconfig examples/tsconfig.json --env-file=examples/private-key-jwt/dev.env \
 *     examples/private-key-jwt/main.ts "Tacoma, WA" "Olympia, WA"
 *
 * Environment: M2M_ISSUER, M2M_CLIENT_ID, M2M_PRIVATE_KEY_FILE, optional M2M_KEY_ID and M2M_SCOPE,
 * M2M_AUDIENCE, WORLDMAPPERS_API_URL.
 */
import { readFile } from 'node:fs/promises';
import { OAuthError } from 'm2m-token';
import { createRoutePlannerClient } from './route-planner.js';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`Set the environment variable ${name}`);
  return value;
}

async function main([from = 'Tacoma, WA', to = 'Olympia, WA']: string[]): Promise<void> {
  const client = createRoutePlannerClient({
    issuer: env('M2M_ISSUER'),
    clientId: env('M2M_CLIENT_ID'),
    privateKeyPem: await readFile(env('M2M_PRIVATE_KEY_FILE'), 'utf8'),
    keyId: process.env.M2M_KEY_ID,
    audience: env('M2M_AUDIENCE'),
    scope: process.env.M2M_SCOPE,
  });

  const token = await client.getToken();
  console.log(
    `token: ${token.tokenType}, scope "${token.scope ?? ''}" (client authenticated with private_key_jwt)`,
  );

  const apiUrl = new URL(env('WORLDMAPPERS_API_URL'));
  const api = client.createFetch({ allowedOrigins: [apiUrl.origin] });
  const res = await api(new URL('/api/routes', apiUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ from, to }),
  });
  if (!res.ok) throw new Error(`POST /api/routes answered ${res.status}`);
  const route = (await res.json()) as { id: number; from: string; to: string; createdBy: string };
  console.log(`created route #${route.id}: ${route.from} -> ${route.to} (by ${route.createdBy})`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof OAuthError) {
    // invalid_client here usually means the public key registered for the client does not match.
    console.error(`token request refused: ${error.status} ${error.error} ${error.errorDescription ?? ''}`);
  } else {
    console.error(error instanceof Error ? error.message : error);
  }
  process.exitCode = 1;
});
