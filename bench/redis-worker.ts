/** One process of figure 7: a client with a RedisTokenCache asks for every audience at once. */
import { createClient } from 'redis';
import { ClientCredentialsClient } from '../src/index.js';
import { RedisTokenCache } from '../src/redis/index.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};

const redis = createClient({ url: env('BENCH_REDIS_URL') });
redis.on('error', () => {
  // reported through the calls that fail
});
await redis.connect();
const client = new ClientCredentialsClient({
  tokenEndpoint: env('BENCH_TOKEN_ENDPOINT'),
  clientId: env('BENCH_CLIENT_ID'),
  clientSecret: env('BENCH_CLIENT_SECRET'),
  cache: new RedisTokenCache({ client: redis }),
});
const audiences = Array.from({ length: Number(env('BENCH_AUDIENCES')) }, (_, i) => `urn:bench:shared:${i}`);

process.once('message', (m) => {
  if (m !== 'go') return;
  void Promise.allSettled(audiences.map((audience) => client.getToken({ audience }))).then(
    async (settled) => {
      const failed = settled.filter((s) => s.status === 'rejected');
      const first = failed[0] as PromiseRejectedResult | undefined;
      const error = first
        ? first.reason instanceof Error
          ? first.reason.message
          : String(first.reason)
        : undefined;
      await redis.quit().catch(() => undefined);
      process.send?.({ errors: failed.length, ...(error ? { error } : {}) }, () => process.exit(0));
    },
  );
});
process.send?.('ready');
