/**
 * A fleet of service instances sharing one token through Redis (m2m-token/redis).
 *
 * Each instance has its own Redis connection, its own RedisTokenCache and its own
 * ClientCredentialsClient, exactly as separate processes or containers would. They all start at once
 * and call getToken(): one of them takes the Redis lock and asks the token endpoint, the others wait
 * for the token it stores. An instance started later finds the token in Redis. The whole fleet makes
 * one token request instead of one per instance (which matters when the authorization server bills
 * or rate-limits token requests, as Auth0 does).
 *
 *   redis-server --port 6379 &                                  # or any Redis
 *   npx tsx --tsconfig examples/tsconfig.json --env-file=examples/redis-fleet/dev.env \
 *     examples/redis-fleet/main.ts
 *
 * Environment: REDIS_URL (default redis://127.0.0.1:6379), M2M_TOKEN_ENDPOINT, M2M_CLIENT_ID,
 * M2M_CLIENT_SECRET, M2M_AUDIENCE, optional M2M_SCOPE, FLEET_SIZE (default 4) and REDIS_TOKEN_KEY
 * (base64 of 32 random bytes: tokens are then stored encrypted with AES-256-GCM;
 * make one with `openssl rand -base64 32`).
 */
import { ClientCredentialsClient, type Token, type TokenEvent } from 'm2m-token';
import { RedisTokenCache } from 'm2m-token/redis';
import { createClient } from 'redis';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`Set the environment variable ${name}`);
  return value;
}

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const FLEET_SIZE = Number(process.env.FLEET_SIZE ?? 4);

function encryptionKey(): Uint8Array | undefined {
  const base64 = process.env.REDIS_TOKEN_KEY;
  if (!base64) return undefined;
  const key = Buffer.from(base64, 'base64');
  if (key.length !== 32) throw new Error('REDIS_TOKEN_KEY must be the base64 of 32 bytes');
  return key;
}

interface Instance {
  name: string;
  client: ClientCredentialsClient;
  events: TokenEvent[];
  close(): Promise<void>;
}

/** One service instance: what each process of the fleet does at startup. */
async function startInstance(name: string): Promise<Instance> {
  const redis = createClient({ url: REDIS_URL });
  redis.on('error', (error: Error) => console.error(`${name}: Redis: ${error.message}`));
  await redis.connect();

  const events: TokenEvent[] = [];
  const onEvent = (event: TokenEvent) => events.push(event);
  const key = encryptionKey();
  const client = new ClientCredentialsClient({
    tokenEndpoint: env('M2M_TOKEN_ENDPOINT'),
    clientId: env('M2M_CLIENT_ID'),
    clientSecret: env('M2M_CLIENT_SECRET'),
    audience: env('M2M_AUDIENCE'),
    ...(process.env.M2M_SCOPE ? { scope: process.env.M2M_SCOPE } : {}),
    cache: new RedisTokenCache({ client: redis, ...(key ? { encryptionKey: key } : {}), onEvent }),
    onEvent,
  });
  return { name, client, events, close: () => redis.close() };
}

/** How an instance got its token, from its own events. */
function howItGotIt(events: readonly TokenEvent[]): string {
  const fetched = events.find((e) => e.type === 'token_request_success');
  if (fetched) return `asked the token endpoint (${Math.round(fetched.durationMs)} ms)`;
  const waited = events.find((e) => e.type === 'lock_wait' && e.outcome === 'token');
  if (waited?.type === 'lock_wait')
    return `waited ${waited.waitedMs} ms for the token another instance stored`;
  if (events.some((e) => e.type === 'cache_hit')) return 'found it in Redis';
  return events.map((e) => e.type).join(', ');
}

async function main(): Promise<void> {
  const fleet: Instance[] = [];
  try {
    for (let i = 1; i <= FLEET_SIZE; i++) fleet.push(await startInstance(`instance ${i}`));

    console.log(`${FLEET_SIZE} instances call getToken() at the same moment:`);
    const tokens: Token[] = await Promise.all(fleet.map((instance) => instance.client.getToken()));
    for (const instance of fleet) console.log(`  ${instance.name}: ${howItGotIt(instance.events)}`);

    const late = await startInstance('a late instance');
    fleet.push(late);
    tokens.push(await late.client.getToken());
    console.log(`  ${late.name}: ${howItGotIt(late.events)}`);

    const requests = fleet.flatMap((i) => i.events).filter((e) => e.type === 'token_request_start').length;
    const distinct = new Set(tokens.map((t) => t.accessToken)).size;
    console.log(`token requests made by the fleet: ${requests}; distinct tokens: ${distinct}`);
    if (requests !== 1 || distinct !== 1) throw new Error('expected one token request and one shared token');
  } finally {
    await Promise.allSettled(fleet.map((instance) => instance.close()));
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
