/**
 * Child process of figure 7 for one in-process row: R replicas x A audiences (test/fixtures/fleet-sim.ts),
 * each replica with its own node-redis connection. A fresh process per row, so one row's heap (1,000
 * connections) never weighs on the next. Reads its row from FLEET_* variables, sends the result over IPC.
 */
import { createClient } from 'redis';
import { simulateFleet } from '../test/fixtures/fleet-sim.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};

const redisUrl = env('FLEET_REDIS_URL');
const statsUrl = env('FLEET_STATS_URL');

try {
  const result = await simulateFleet({
    replicas: Number(env('FLEET_REPLICAS')),
    audiences: Number(env('FLEET_AUDIENCES')),
    tokenEndpoint: env('FLEET_TOKEN_ENDPOINT'),
    clientId: env('FLEET_CLIENT_ID'),
    clientSecret: env('FLEET_CLIENT_SECRET'),
    steadyMs: Number(env('FLEET_STEADY_MS')),
    steadyIntervalMs: Number(env('FLEET_STEADY_INTERVAL_MS')),
    connect: async () => {
      const client = createClient({ url: redisUrl });
      client.on('error', () => {});
      await client.connect();
      return { client, quit: async () => void client.destroy() };
    },
    tokenRequests: async () => {
      const res = await fetch(statsUrl, { signal: AbortSignal.timeout(10_000) });
      return ((await res.json()) as { total: number }).total;
    },
  });
  process.send?.({ result }, () => process.exit(0));
} catch (error) {
  process.send?.({ error: error instanceof Error ? error.message : String(error) }, () => process.exit(1));
}
