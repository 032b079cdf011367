/**
 * RedisTokenCache with encryptionKey: values at rest are AES-256-GCM sealed; anything that does not open
 * (tampering, a wrong key, an entry moved to another key, garbage) is a miss reported through onEvent, and
 * getToken() simply asks for a new token.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CachedToken, ClientCredentialsClient, type TokenEvent } from '../src/index.js';
import { RedisTokenCache } from '../src/redis/index.js';
import { connectRedis, DRIVERS, type RedisConnection } from './helpers/redis-clients.js';
import {
  haveRedisServer,
  type RedisServer,
  redisServerMissingMessage,
  startRedisServer,
} from './helpers/redis-server.js';
import { startTokenServer, type TokenServer } from './helpers/token-server.js';
import { testToken } from './helpers/tokens.js';

type Fault = Extract<TokenEvent, { type: 'cache_fault' }>;
/** `2e:` + 22 characters of fingerprint + `:` (see src/redis/codec.ts). */
const HEAD = 26;
let prefixes = 0;
const freshPrefix = () => `m2m-enc-${process.pid}-${++prefixes}:`;

describe.skipIf(!haveRedisServer)(
  `RedisTokenCache encryption (${haveRedisServer ? 'redis-server found' : redisServerMissingMessage})`,
  () => {
    let server: RedisServer;
    let tokens: TokenServer;
    let admin: RedisConnection;
    const connections: RedisConnection[] = [];

    beforeAll(async () => {
      [server, tokens] = await Promise.all([startRedisServer(), startTokenServer({ expiresIn: 3600 })]);
      admin = await connectRedis('redis', server.url);
    });
    afterEach(async () => {
      await Promise.all(connections.splice(0).map((c) => c.quit()));
    });
    afterAll(async () => {
      await admin?.quit();
      await tokens?.close();
      await server?.stop();
    });

    const tokenKeys = async (prefix: string) => (await admin.command('KEYS', `${prefix}*:token`)) as string[];

    describe.each(DRIVERS)('with %s', (driver) => {
      /** A "process": its own connection, cache and client; records the faults of both. */
      async function startProcess(keyPrefix: string, encryptionKey: Uint8Array | undefined) {
        const conn = await connectRedis(driver, server.url);
        connections.push(conn);
        const faults: Fault[] = [];
        const record = (event: TokenEvent) => {
          if (event.type === 'cache_fault') faults.push(event);
        };
        const cache = new RedisTokenCache({
          client: conn.client,
          keyPrefix,
          localTtlMs: 0, // every read goes to Redis: these tests are about what is stored there
          onEvent: record,
          ...(encryptionKey ? { encryptionKey } : {}),
        });
        const client = new ClientCredentialsClient({
          tokenEndpoint: tokens.url,
          clientId: 'enc-client',
          clientSecret: 'enc-secret',
          retry: false,
          cache,
          onEvent: record,
        });
        // The client stores a token in the background once its callers have it: these tests read Redis
        // right after getToken(), so their getToken() also waits for the stores the client started.
        const stores = new Set<Promise<void>>();
        const set = cache.set.bind(cache);
        cache.set = (...args: Parameters<typeof set>) => {
          const stored = set(...args);
          stores.add(stored);
          return stored;
        };
        const settled = async <T>(value: T): Promise<T> => {
          await Promise.allSettled(stores);
          stores.clear();
          return value;
        };
        const view = {
          getToken: async (options: Parameters<typeof client.getToken>[0]) =>
            settled(await client.getToken(options)),
          invalidate: (options: Parameters<typeof client.invalidate>[0]) => client.invalidate(options),
        };
        return { cache, client: view, faults };
      }

      it('stores values that cannot be read without the key, with a fresh IV on every write', async () => {
        const key = randomBytes(32);
        const keyPrefix = freshPrefix();
        const a = await startProcess(keyPrefix, key);
        const token = await a.client.getToken({ audience: 'urn:enc' });
        const [redisKey] = (await tokenKeys(keyPrefix)) as [string];
        const stored = String(await admin.command('GET', redisKey));
        // Format 2: `2e:<fingerprint of the token>:<base64 sealed JSON>`.
        expect(stored).toMatch(/^2e:[A-Za-z0-9_-]{22}:[A-Za-z0-9+/=]+$/);
        expect(stored).not.toContain(token.accessToken);
        expect(stored).not.toContain('access_token');
        expect(stored).not.toContain('Bearer');
        expect(() => JSON.parse(stored)).toThrow();
        // 12-byte IV + ciphertext + 16-byte tag.
        expect(Buffer.from(stored.slice(HEAD), 'base64').length).toBeGreaterThan(28 + 50);

        // The same entry written twice gives two different ciphertexts (fresh IV), and both open.
        const direct = await startProcess(freshPrefix(), key);
        const logicalKey = JSON.stringify([
          'http://127.0.0.1/token',
          'enc-client',
          'urn:iv',
          [],
          [],
          [],
          null,
        ]);
        const now = Date.now();
        const entry: CachedToken = {
          token: testToken({
            accessToken: 'iv-token',
            tokenType: 'Bearer',
            expiresAt: now + 60_000,
            raw: { access_token: 'iv-token' },
          }),
          obtainedAt: now,
          refreshAt: now + 30_000,
          usableUntil: now + 59_000,
        };
        const written: string[] = [];
        for (let i = 0; i < 2; i++) {
          await direct.cache.set(logicalKey, entry, 59_000);
          const [ivKey] = (await tokenKeys(direct.cache.keyPrefix)) as [string];
          written.push(String(await admin.command('GET', ivKey)));
          const opened = (await direct.cache.get(logicalKey)) as CachedToken;
          expect(opened).toEqual(entry);
        }
        expect(written[0]).not.toBe(written[1]);
        expect(written[0]?.slice(HEAD, HEAD + 16)).not.toBe(written[1]?.slice(HEAD, HEAD + 16)); // the IVs differ
        // The fingerprint is keyed: the same token under another encryption key has another one.
        const other = await startProcess(freshPrefix(), randomBytes(32));
        await other.cache.set(logicalKey, entry, 59_000);
        const [otherKey] = (await tokenKeys(other.cache.keyPrefix)) as [string];
        const otherHead = String(await admin.command('GET', otherKey)).slice(0, HEAD);
        expect(otherHead).not.toBe(written[0]?.slice(0, HEAD));

        // Another process with the same key opens it: no new token request.
        tokens.reset();
        const b = await startProcess(keyPrefix, key);
        expect((await b.client.getToken({ audience: 'urn:enc' })).accessToken).toBe(token.accessToken);
        expect(tokens.count).toBe(0);
        expect([...a.faults, ...b.faults, ...direct.faults]).toEqual([]);
      });

      it('a tampered value is detected: a miss reported as a decrypt fault, and a new token', async () => {
        const key = randomBytes(32);
        const keyPrefix = freshPrefix();
        const a = await startProcess(keyPrefix, key);
        const first = await a.client.getToken({ audience: 'urn:tamper' });
        const [redisKey] = (await tokenKeys(keyPrefix)) as [string];
        const stored = String(await admin.command('GET', redisKey));
        const sealed = Buffer.from(stored.slice(HEAD), 'base64');
        sealed[20] = (sealed[20] as number) ^ 0x01; // one bit of the ciphertext
        await admin.command(
          'SET',
          redisKey,
          `${stored.slice(0, HEAD)}${sealed.toString('base64')}`,
          'PX',
          '60000',
        );

        const requestsBefore = tokens.count;
        const second = await a.client.getToken({ audience: 'urn:tamper' });
        expect(second.accessToken).not.toBe(first.accessToken);
        expect(tokens.count - requestsBefore).toBe(1);
        const decrypt = a.faults.filter((f) => f.operation === 'decrypt');
        expect(decrypt.length).toBeGreaterThanOrEqual(1);
        expect(decrypt[0]?.error.code).toBe('M2M_REDIS_ENTRY_UNREADABLE');
        expect(decrypt[0]?.key).toMatchObject({ clientId: 'enc-client', audience: 'urn:tamper' });
        // Nothing secret in the event.
        expect(JSON.stringify(a.faults)).not.toContain(first.accessToken);
        expect(JSON.stringify(a.faults)).not.toContain(key.toString('base64'));
      });

      it('an edited fingerprint is detected like any other tampering (plain and sealed)', async () => {
        for (const encryptionKey of [randomBytes(32), undefined]) {
          const keyPrefix = freshPrefix();
          const a = await startProcess(keyPrefix, encryptionKey);
          const first = await a.client.getToken({ audience: 'urn:fingerprint' });
          const [redisKey] = (await tokenKeys(keyPrefix)) as [string];
          const stored = String(await admin.command('GET', redisKey));
          const flipped = stored[3] === 'A' ? 'B' : 'A';
          await admin.command(
            'SET',
            redisKey,
            `${stored.slice(0, 3)}${flipped}${stored.slice(4)}`,
            'PX',
            '60000',
          );
          tokens.reset();
          const second = await a.client.getToken({ audience: 'urn:fingerprint' });
          expect(second.accessToken).not.toBe(first.accessToken);
          expect(tokens.count).toBe(1);
          expect(a.faults.some((f) => f.operation === 'decrypt' && /fingerprint/.test(f.error.message))).toBe(
            true,
          );
        }
      });

      it('a wrong key is a miss (reported), never an exception in the caller', async () => {
        const keyPrefix = freshPrefix();
        const a = await startProcess(keyPrefix, randomBytes(32));
        const b = await startProcess(keyPrefix, randomBytes(32));
        const fromA = await a.client.getToken({ audience: 'urn:wrong-key' });
        tokens.reset();
        const fromB = await b.client.getToken({ audience: 'urn:wrong-key' });
        expect(fromB.accessToken).not.toBe(fromA.accessToken);
        expect(tokens.count).toBe(1);
        expect(
          b.faults.some((f) => f.operation === 'decrypt' && /authentication/.test(f.error.message)),
        ).toBe(true);
      });

      it('an entry moved under another key does not open (the cache key is authenticated data)', async () => {
        const key = randomBytes(32);
        const keyPrefix = freshPrefix();
        const a = await startProcess(keyPrefix, key);
        await a.client.getToken({ audience: 'urn:from' });
        await a.client.getToken({ audience: 'urn:to' });
        const keys = await tokenKeys(keyPrefix);
        expect(keys).toHaveLength(2);
        const [k1, k2] = keys as [string, string];
        await admin.command('SET', k2, String(await admin.command('GET', k1)), 'PX', '60000');
        tokens.reset();
        a.faults.length = 0;
        await a.client.getToken({ audience: 'urn:to' });
        await a.client.getToken({ audience: 'urn:from' });
        // Whichever of the two was overwritten fails to open and is fetched again; the other still opens.
        expect(tokens.count).toBe(1);
        // (A miss is read twice: once by the call, once more by the lock script; both reads report it.)
        const failed = new Set(a.faults.filter((f) => f.operation === 'decrypt').map((f) => f.key.audience));
        expect(failed.size).toBe(1);
      });

      it('plain where a key is required, sealed where none is configured, and garbage: each a reported miss', async () => {
        const keyPrefix = freshPrefix();
        const plain = await startProcess(keyPrefix, undefined);
        const sealed = await startProcess(keyPrefix, randomBytes(32));

        await plain.client.getToken({ audience: 'urn:plain' }); // stored as plain JSON
        tokens.reset();
        await sealed.client.getToken({ audience: 'urn:plain' }); // refuses it: could have been planted
        expect(tokens.count).toBe(1);
        expect(
          sealed.faults.some((f) => f.operation === 'decrypt' && /not encrypted/.test(f.error.message)),
        ).toBe(true);

        tokens.reset();
        await plain.client.invalidate({ audience: 'urn:plain' });
        await sealed.client.getToken({ audience: 'urn:plain' }); // stored sealed now
        plain.faults.length = 0;
        await plain.client.getToken({ audience: 'urn:plain' });
        expect(tokens.count).toBe(2);
        expect(
          plain.faults.some((f) => f.operation === 'decrypt' && /no encryptionKey/.test(f.error.message)),
        ).toBe(true);

        for (const garbage of [
          '{"v":1,"token":{"accessToken":""}}',
          'not json at all',
          'e1:AAAA',
          '[1,2,3]',
          `2p:${'A'.repeat(22)}:{"token":{}}`,
          `2p:${'A'.repeat(22)}`,
          '2e:',
        ]) {
          const [redisKey] = (await tokenKeys(keyPrefix)) as [string];
          await admin.command('SET', redisKey, garbage, 'PX', '60000');
          plain.faults.length = 0;
          tokens.reset();
          const token = await plain.client.getToken({ audience: 'urn:plain' });
          expect(token.accessToken).toMatch(/^tok-/);
          expect(tokens.count).toBe(1);
          expect(plain.faults.filter((f) => f.operation === 'decrypt').length).toBeGreaterThanOrEqual(1);
          expect(plain.faults.every((f) => f.operation === 'decrypt')).toBe(true);
        }
      });
    });
  },
);
