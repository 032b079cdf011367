/**
 * Unknown option keys are errors, not silently ignored: in the constructor (and its nested `retry` and
 * `dpop` objects), per call (getToken, invalidate), and in createFetch and bearerInterceptor options.
 * The error names the key and, when one is close, the option that was meant. A `dispatcher` that
 * cannot dispatch fails in the constructor, not at the first request.
 */
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { bearerInterceptor } from '../src/fetch/undici-entry.js';
import {
  ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  ConfigurationError,
  ErrorCode,
  MemoryTokenCache,
} from '../src/index.js';
import { testClient } from './helpers/clients.js';
import { ENDPOINT, fakeTokenEndpoint } from './helpers/token-endpoint.js';

const base = { tokenEndpoint: ENDPOINT, clientId: 'keys-client', clientSecret: 'keys-secret' };

function constructorError(options: Record<string, unknown>): ConfigurationError {
  try {
    new ClientCredentialsClient(options as unknown as ClientCredentialsClientOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).code).toBe(ErrorCode.CONFIGURATION);
    return error as ConfigurationError;
  }
  throw new Error('expected a ConfigurationError');
}

describe('constructor options', () => {
  it.each<[string, Record<string, unknown>, string, string]>([
    ['a misspelt audience', { ...base, audiance: 'urn:x' }, 'audiance', 'did you mean audience?'],
    ['scopes for scope', { ...base, scopes: ['a'] }, 'scopes', 'did you mean scope?'],
    ['a transposition', { ...base, resuorce: 'https://a.example/' }, 'resuorce', 'did you mean resource?'],
    ['timeout for timeoutMs', { ...base, timeout: 1000 }, 'timeout', 'did you mean timeoutMs?'],
    [
      'another case',
      { ...base, allowInsecureHTTP: true },
      'allowInsecureHTTP',
      'did you mean allowInsecureHttp?',
    ],
    [
      'snake_case',
      { ...base, expiry_buffer_seconds: 5 },
      'expiry_buffer_seconds',
      'did you mean expiryBufferSeconds?',
    ],
    [
      'an alias from other libraries',
      { ...base, tokenUrl: ENDPOINT },
      'tokenUrl',
      'did you mean tokenEndpoint?',
    ],
    ['retries at the top level', { ...base, retries: 3 }, 'retries', 'did you mean retry?'],
    [
      'a misspelt retry member',
      { ...base, retry: { retires: 3 } },
      'retry.retires',
      'did you mean retry.retries?',
    ],
    [
      'a misspelt dpop member',
      { ...base, dpop: { privatekey: 'x' } },
      'dpop.privatekey',
      'did you mean dpop.privateKey?',
    ],
    ['nothing close', { ...base, colour: 'blue' }, 'colour', 'see the options of ClientCredentialsClient'],
  ])('%s: ConfigurationError naming the key', (_name, options, option, hint) => {
    const error = constructorError(options);
    expect(error.option).toBe(option);
    expect(error.message).toContain(hint);
    expect(error.message.startsWith(`options.${option}: is not an option of `)).toBe(true);
  });

  it('a misspelt key is named before what it makes look missing (clientID, not a missing clientId)', () => {
    const error = constructorError({ tokenEndpoint: ENDPOINT, clientID: 'c', clientSecret: 's' });
    expect(error.option).toBe('clientID');
    expect(error.message).toContain('did you mean clientId?');
  });

  it('lists what retry takes when nothing is close', () => {
    const error = constructorError({ ...base, retry: { jitter: true } });
    expect(error.option).toBe('retry.jitter');
    expect(error.message).toContain('retry takes retries, factor, minTimeout, maxTimeout, randomize');
  });

  it('never echoes the value of an unknown key', () => {
    const error = constructorError({ ...base, clientSecrett: 'hunter2-do-not-echo' });
    expect(error.message).not.toContain('hunter2-do-not-echo');
    expect(JSON.stringify(error)).not.toContain('hunter2-do-not-echo');
  });

  it('accepts every documented option (no false alarm)', () => {
    const options: Required<
      Omit<
        ClientCredentialsClientOptions,
        // Other credentials, exclusive with a secret; tested with their methods.
        'privateKey' | 'certificate' | 'dispatcher' | 'clientAssertion' | 'clientAssertionFile'
      >
    > = {
      tokenEndpoint: ENDPOINT,
      issuer: undefined as unknown as string,
      clientId: 'c',
      authMethod: 'client_secret_post',
      clientSecret: 's',
      keyId: 'kid',
      signingAlgorithm: 'HS256',
      assertionAudience: ENDPOINT,
      assertionTypHeader: true,
      assertionLifetimeSeconds: 60,
      clockSkewSeconds: 5,
      basicAuthEncoding: 'form-urlencoded',
      audience: 'urn:a',
      scope: 'a',
      resource: 'https://r.example/',
      extraParams: {},
      expiryBufferSeconds: 1,
      defaultLifetimeSeconds: 1,
      refreshAheadSeconds: 1,
      cache: false,
      fetch: fakeTokenEndpoint().fetch,
      timeoutMs: 1,
      allowInsecureHttp: false,
      retry: { retries: 1, factor: 2, minTimeout: 1, maxTimeout: 2, randomize: false, maxRetryAfterMs: 1 },
      headers: {},
      dpop: false,
      onEvent: () => undefined,
    };
    delete (options as Partial<typeof options>).issuer;
    expect(() => new ClientCredentialsClient(options)).not.toThrow();
  });
});

describe('MemoryTokenCache options', () => {
  it('maxEntry (misspelt): ConfigurationError with a did-you-mean', () => {
    expect(() => new MemoryTokenCache({ maxEntry: 10 } as never)).toThrow(
      expect.objectContaining({
        option: 'maxEntry',
        message: expect.stringContaining('did you mean maxEntries?'),
      }),
    );
    expect(new MemoryTokenCache({ maxEntries: 10 }).maxEntries).toBe(10);
  });
});

describe('dispatcher', () => {
  it.each<[string, unknown]>([
    ['a number', 42],
    ['a string', 'http://proxy.example:3128'],
    ['an object without dispatch', { connect: {} }],
    ['an object whose dispatch is not a function', { dispatch: true }],
  ])('%s: ConfigurationError dispatcher in the constructor', (_name, dispatcher) => {
    const error = constructorError({ ...base, dispatcher });
    expect(error.option).toBe('dispatcher');
    expect(error.message).toContain('an object with a dispatch function');
  });

  it('accepts an undici Agent', async () => {
    const agent = new Agent();
    try {
      expect(() => new ClientCredentialsClient({ ...base, dispatcher: agent })).not.toThrow();
    } finally {
      await agent.close();
    }
  });
});

describe('per-call options', () => {
  it('getToken({ audiance }): rejects naming the key with a did-you-mean, and sends nothing', async () => {
    const endpoint = fakeTokenEndpoint();
    const client = testClient({ fetch: endpoint.fetch });
    const error = await client.getToken({ audiance: 'urn:x' } as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).option).toBe('audiance');
    expect((error as ConfigurationError).message).toContain('did you mean audience?');
    expect(endpoint.count).toBe(0);
  });

  it('getToken: lists its options when nothing is close', async () => {
    const client = testClient({ fetch: fakeTokenEndpoint().fetch });
    await expect(client.getToken({ cacheBust: true } as never)).rejects.toMatchObject({
      option: 'cacheBust',
      message: expect.stringContaining(
        'getToken() takes audience, scope, resource, extraParams, forceRefresh, signal',
      ),
    });
  });

  it.each<[string, unknown, string]>([
    ['forceRefresh that is not a boolean', { forceRefresh: 'yes' }, 'forceRefresh'],
    ['signal that is not an AbortSignal', { signal: 1000 }, 'signal'],
    ['options that are not an object', 'urn:x', '(options)'],
    ['null options', null, '(options)'],
  ])('getToken: %s', async (_name, options, option) => {
    const endpoint = fakeTokenEndpoint();
    const client = testClient({ fetch: endpoint.fetch });
    await expect(client.getToken(options as never)).rejects.toMatchObject({ option });
    expect(endpoint.count).toBe(0);
  });

  it('getToken: the documented options still work', async () => {
    const endpoint = fakeTokenEndpoint();
    const client = testClient({ fetch: endpoint.fetch });
    const token = await client.getToken({
      audience: 'urn:a',
      scope: 'read',
      resource: 'https://r.example/',
      extraParams: { organization: 'o' },
      forceRefresh: true,
      signal: new AbortController().signal,
    });
    expect(token.accessToken).toBe('token-1');
    expect(endpoint.requests[0]?.params.get('audience')).toBe('urn:a');
  });

  it('invalidate({ forceRefresh }) and invalidate({ scopes }) are refused', async () => {
    const client = testClient({ fetch: fakeTokenEndpoint().fetch });
    await expect(client.invalidate({ scopes: 'a' } as never)).rejects.toMatchObject({
      option: 'scopes',
      message: expect.stringContaining('did you mean scope?'),
    });
    await expect(client.invalidate({ forceRefresh: true } as never)).rejects.toMatchObject({
      option: 'forceRefresh',
      message: expect.stringContaining('invalidate() takes audience, scope, resource, extraParams'),
    });
  });

  it('createFetch({ allowedOrigin }): throws naming the key with a did-you-mean', () => {
    const client = testClient({ fetch: fakeTokenEndpoint().fetch });
    expect(() => client.createFetch({ allowedOrigin: ['https://api.example.com'] } as never)).toThrow(
      expect.objectContaining({
        option: 'allowedOrigin',
        message: expect.stringContaining('did you mean allowedOrigins?'),
      }),
    );
    expect(() => client.createFetch({ forceRefresh: true } as never)).toThrow(
      expect.objectContaining({ option: 'forceRefresh' }),
    );
  });

  it('bearerInterceptor(client, { audiance }): throws naming the key with a did-you-mean', () => {
    const client = testClient({ fetch: fakeTokenEndpoint().fetch });
    expect(() => bearerInterceptor(client, { audiance: 'urn:x' } as never)).toThrow(
      expect.objectContaining({
        option: 'audiance',
        message: expect.stringContaining('did you mean audience?'),
      }),
    );
    expect(() => bearerInterceptor(client, { fetch: globalThis.fetch } as never)).toThrow(
      expect.objectContaining({
        option: 'fetch',
        message: expect.stringContaining(
          'bearerInterceptor() takes audience, scope, resource, extraParams, allowedOrigins',
        ),
      }),
    );
  });
});
