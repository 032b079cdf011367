/**
 * private_key_jwt from the command line: gets a token as the Route Planner client and creates a
 * delivery route (scope write:routes) at the World Mappers API.
 *
 *   npx tsx --tsconfig examples/tsconfig.json --env-file=examples/private-key-jwt/dev.env \
 *     examples/private-key-jwt/main.ts "Tacoma, WA" "Olympia, WA"
 *
 * Environment: M2M_ISSUER, M2M_CLIENT_ID, M2M_PRIVATE_KEY (the key's file name, or the PEM itself, as
 * for the m2m-token CLI), optional M2M_KEY_ID and M2M_SCOPE, M2M_AUDIENCE, WORLDMAPPERS_API_URL.
 */
import { readFile } from 'node:fs/promises';
import { OAuthError } from 'm2m-token';
import { createRoutePlannerClient } from './route-planner.js';

/** M2M_PRIVATE_KEY names the key's file or holds the PEM itself (containers often get keys that way). */
async function readPrivateKey(value: string): Promise<string> {
  return value.trimStart().startsWith('-----BEGIN') ? value : readFile(value, 'utf8');
}

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`Set the environment variable ${name}`);
  return value;
}

async function main([from = 'Tacoma, WA', to = 'Olympia, WA']: string[]): Promise<void> {
  const client = createRoutePlannerClient({
    issuer: env('M2M_ISSUER'),
    clientId: env('M2M_CLIENT_ID'),
    privateKeyPem: await readPrivateKey(env('M2M_PRIVATE_KEY')),
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
