/**
 * What RedisTokenCache counts as a Redis failure (issues 19.1 and 12.3): a stalled or saturated event loop
 * in this process is not an outage; a Redis that does not answer while the loop is free, a refused or reset
 * connection, or a server that answers "I am unwell" is. The failure pause runs on the monotonic clock.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ClientCredentialsClient, type TokenEvent } from '../src/index.js';
import { type RedisClientLike, RedisTokenCache } from '../src/redis/index.js';
import { connectRedis, type RedisConnection, stallingClient } from './helpers/redis-clients.js';
import {
  haveRedisServer,
  type RedisServer,
  redisServerMissingMessage,
  startRedisServer,
} from './helpers/redis-server.js';
import { startTokenServer } from './helpers/token-server.js';
import { clientKey, testEntry } from './helpers/tokens.js';

type Fault = Extract<TokenEvent, { type: 'cache_fault' }>;
let prefixes = 0;
const freshPrefix = () => `m2m-health-${process.pid}-${++prefixes}:`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A node-redis-shaped client answering every command with `answer()`; counts what it was sent. */
function scriptedClient(answer: (args: readonly string[]) => Promise<unknown>) {
  const sent: string[][] = [];
  const client: RedisClientLike = {
    sendCommand: (args: string[]) => {
      sent.push(args);
      return answer(args);
    },
  };
  return { client, sent };
}

function connectionReset(): Error {
  return Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
}

function replyError(message: string): Error {
  const error = new Error(message);
  error.name = 'ErrorReply'; // node-redis's class name for an error the server answered with
  return error;
}

describe('the failure pause and what counts as a failure (no server needed)', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it('a refused or reset connection is a failure: the next calls fail fast without reaching Redis', async () => {
    const { client, sent } = scriptedClient(() => Promise.reject(connectionReset()));
    const cache = new RedisTokenCache({ client, timeoutMs: 1_000 });
    await expect(cache.get(clientKey('a'))).rejects.toMatchObject({ code: 'M2M_REDIS_UNAVAILABLE' });
    expect(cache.healthy).toBe(false);
    await expect(cache.get(clientKey('b'))).rejects.toMatchObject({ code: 'M2M_REDIS_UNAVAILABLE' });
    await expect(cache.acquireLock(clientKey('b'), 1_000)).rejects.toMatchObject({
      code: 'M2M_REDIS_UNAVAILABLE',
    });
    expect(sent).toHaveLength(1);
  });

  it.each([
    ['LOADING Redis is loading the dataset in memory', true],
    ['CLUSTERDOWN The cluster is down', true],
    ['READONLY You cannot write against a read only replica.', true],
    ['OOM command not allowed when used memory > maxmemory', true],
    ['WRONGTYPE Operation against a key holding the wrong kind of value', false],
  ])('Redis answering "%s" is a failure of the whole server: %s', async (message, pauses) => {
    const { client } = scriptedClient(() => Promise.reject(replyError(message)));
    const cache = new RedisTokenCache({ client, timeoutMs: 1_000 });
    const error = await Promise.resolve(cache.get(clientKey('a'))).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'RedisCacheError' });
    // The error names the server's error code only: never more of the reply.
    expect((error as Error).message).toContain(message.split(' ')[0]);
    expect(cache.healthy).toBe(!pauses);
  });

  it('the pause runs on the monotonic clock: setting the wall clock back 2 h does not stretch it', async () => {
    let fail = true;
    const { client, sent } = scriptedClient(() =>
      fail ? Promise.reject(connectionReset()) : Promise.resolve(null),
    );
    // Both clocks are the test's: the wall clock (Date) and the monotonic one (performance).
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    const cache = new RedisTokenCache({ client, timeoutMs: 1_000 });
    await expect(cache.get(clientKey('a'))).rejects.toMatchObject({ code: 'M2M_REDIS_UNAVAILABLE' });
    fail = false;
    vi.setSystemTime(Date.now() - 2 * 3_600_000);
    // The first pause is 250 ms of monotonic time: still in force 249 ms on (nothing sent), over at 251.
    vi.advanceTimersByTime(249);
    await expect(cache.get(clientKey('a'))).rejects.toMatchObject({ code: 'M2M_REDIS_UNAVAILABLE' });
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(2);
    expect(await cache.get(clientKey('a'))).toBeUndefined();
    expect(sent).toHaveLength(2);
    expect(cache.healthy).toBe(true);
  });

  it('a Redis that does not answer while the event loop is free times out and starts the pause', async () => {
    const { client, sent } = scriptedClient(() => new Promise(() => {}));
    const cache = new RedisTokenCache({ client, timeoutMs: 50 });
    await expect(cache.acquireLock(clientKey('a'), 1_000)).rejects.toMatchObject({
      code: 'M2M_REDIS_TIMEOUT',
    });
    expect(cache.healthy).toBe(false);
    await expect(cache.get(clientKey('a'))).rejects.toMatchObject({ code: 'M2M_REDIS_UNAVAILABLE' });
    expect(sent).toHaveLength(1);
  });
});

describe.skipIf(!haveRedisServer)(
  `a stalled event loop is not a Redis outage (${haveRedisServer ? 'redis-server found' : redisServerMissingMessage})`,
  () => {
    let server: RedisServer;
    const connections: RedisConnection[] = [];

    beforeAll(async () => {
      server = await startRedisServer();
    });
    afterEach(async () => {
      await Promise.all(connections.splice(0).map((c) => c.quit()));
    });
    afterAll(async () => {
      await server?.stop();
    });

    const connect = async () => {
      const conn = await connectRedis('redis', server.url);
      connections.push(conn);
      return conn;
    };

    // Each reply, once received, stalls the loop for 300 ms (3x the 100 ms timeout) and then needs 5 more
    // turns of the loop: Redis answered at once, this process was busy.
    const STALL = { stallMs: 300, turns: 5 };

    it('a read answered while the process was stalled returns the entry: no timeout, no pause, no fault', async () => {
      const keyPrefix = freshPrefix();
      const writer = new RedisTokenCache({ client: (await connect()).client, keyPrefix });
      await writer.set(clientKey('stall'), testEntry('stored-token'), 60_000);
      const faults: Fault[] = [];
      const reader = new RedisTokenCache({
        client: stallingClient((await connect()).client, STALL),
        keyPrefix,
        timeoutMs: 100,
        onEvent: (e) => e.type === 'cache_fault' && faults.push(e),
      });
      const read = await reader.get(clientKey('stall'));
      expect(read?.token.accessToken).toBe('stored-token');
      expect(reader.healthy).toBe(true);
      expect(faults).toEqual([]);
    });

    it('a lock call answered during a stall resolves with the real answer: taken, or held by another', async () => {
      const keyPrefix = freshPrefix();
      const key = clientKey('stall-lock');
      const first = new RedisTokenCache({
        client: stallingClient((await connect()).client, STALL),
        keyPrefix,
        timeoutMs: 100,
      });
      const second = new RedisTokenCache({
        client: stallingClient((await connect()).client, STALL),
        keyPrefix,
        timeoutMs: 100,
      });
      const release = await first.acquireLock(key, 10_000);
      expect(typeof release).toBe('function');
      expect(await second.acquireLock(key, 10_000)).toBeUndefined();
      expect(first.healthy && second.healthy).toBe(true);
      await release?.();
    });

    it("a stalled replica waits for the lock holder's token instead of asking the token endpoint", async () => {
      const keyPrefix = freshPrefix();
      const slow = await startTokenServer({ expiresIn: 3600, delayMs: 400 });
      try {
        const faults: Fault[] = [];
        const record = (e: TokenEvent) => e.type === 'cache_fault' && faults.push(e);
        const replica = (client: RedisClientLike, timeoutMs: number) =>
          new ClientCredentialsClient({
            tokenEndpoint: slow.url,
            clientId: 'cid',
            clientSecret: 'health-secret',
            retry: false,
            onEvent: record,
            cache: new RedisTokenCache({ client, keyPrefix, timeoutMs, onEvent: record }),
          });
        const admin = await connect();
        const holder = replica((await connect()).client, 1_000);
        const stalled = replica(stallingClient((await connect()).client, STALL), 100);
        const first = holder.getToken();
        // The holder has taken the lock and is waiting on the (slow) token endpoint.
        for (let i = 0; i < 500; i++) {
          const keys = (await admin.command('KEYS', `${keyPrefix}*`)) as string[];
          if (keys.some((k) => k.includes('lock'))) break;
          await sleep(10);
        }
        const second = stalled.getToken();
        expect((await second).accessToken).toBe((await first).accessToken);
        expect(slow.count).toBe(1);
        expect(faults).toEqual([]);
      } finally {
        await slow.close();
      }
    });
  },
);
