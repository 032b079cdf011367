/**
 * The error classes: one base with a stable `code`, the subclasses callers branch on, names, fields,
 * `cause`, and `instanceof` across duplicate installs (a Symbol.for brand, as undici does).
 */
import { inspect } from 'node:util';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as m2m from '../src/index.js';
import {
  ConfigurationError,
  DiscoveryError,
  ErrorCode,
  HttpError,
  M2MTokenError,
  OAuthError,
  OriginNotAllowedError,
} from '../src/index.js';

describe('error codes', () => {
  it('are stable strings with the package prefix', () => {
    expect(ErrorCode).toEqual({
      CONFIGURATION: 'M2M_INVALID_CONFIGURATION',
      CLIENT_CLOSED: 'M2M_CLIENT_CLOSED',
      CACHE_ENTRY_INVALID: 'M2M_CACHE_ENTRY_INVALID',
      OAUTH: 'M2M_OAUTH_ERROR',
      HTTP: 'M2M_HTTP_ERROR',
      REDIRECT: 'M2M_UNEXPECTED_REDIRECT',
      RETRY_LATER: 'M2M_RETRY_LATER',
      RESPONSE_TOO_LARGE: 'M2M_RESPONSE_TOO_LARGE',
      NETWORK: 'M2M_NETWORK_ERROR',
      TIMEOUT: 'M2M_TIMEOUT',
      DISCOVERY: 'M2M_DISCOVERY_FAILED',
      ORIGIN_NOT_ALLOWED: 'M2M_ORIGIN_NOT_ALLOWED',
    });
  });

  it('each is also exported on its own, under its value', () => {
    const entry = m2m as unknown as Record<string, unknown>;
    for (const code of Object.values(ErrorCode)) expect(entry[code], code).toBe(code);
  });

  it('`code` is typed as the union of codes: a misspelt code does not compile', () => {
    const error = new HttpError('later', { status: 429, code: m2m.M2M_RETRY_LATER });
    expectTypeOf(error.code).toEqualTypeOf<m2m.ErrorCodeValue>();
    expectTypeOf<'M2M_RETRY_LATER'>().toExtend<m2m.ErrorCodeValue>();
    expectTypeOf<'M2M_REDIS_TIMEOUT'>().toExtend<m2m.ErrorCodeValue>();
    expectTypeOf<'M2M_RETRY_LATRE'>().not.toExtend<m2m.ErrorCodeValue>();
    const branch = (code: m2m.ErrorCodeValue): string => {
      switch (code) {
        case m2m.M2M_RETRY_LATER:
          return 'later';
        // @ts-expect-error: not a code (typecheck fails if this compiles)
        case 'M2M_RETRY_LATRE':
          return 'typo';
        default:
          return 'other';
      }
    };
    expect(branch(error.code)).toBe('later');
  });
});

describe('the classes', () => {
  const cases = [
    [
      new ConfigurationError('retry.retries', 'must be at most 10'),
      ConfigurationError,
      ErrorCode.CONFIGURATION,
    ],
    [new OAuthError({ error: 'invalid_client', status: 401 }), OAuthError, ErrorCode.OAUTH],
    [new HttpError('bad gateway', { status: 502 }), HttpError, ErrorCode.HTTP],
    [
      new HttpError('later', { status: 429, code: ErrorCode.RETRY_LATER, retryAt: 1 }),
      HttpError,
      ErrorCode.RETRY_LATER,
    ],
    [new DiscoveryError('https://idp.test/', 'no metadata'), DiscoveryError, ErrorCode.DISCOVERY],
    [new OriginNotAllowedError('https://evil.test'), OriginNotAllowedError, ErrorCode.ORIGIN_NOT_ALLOWED],
  ] as const;

  it.each(cases)('%s: extends M2MTokenError and Error, has its name and code', (error, cls, code) => {
    expect(error).toBeInstanceOf(cls);
    expect(error).toBeInstanceOf(M2MTokenError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(cls.name);
    expect(error.code).toBe(code);
    expect(error.stack).toContain(cls.name);
    expect(Object.prototype.toString.call(error)).toBe('[object Error]');
  });

  it('subclasses are not instances of each other', () => {
    const oauth = new OAuthError({ error: 'invalid_client', status: 401 });
    expect(oauth).not.toBeInstanceOf(HttpError);
    expect(oauth).not.toBeInstanceOf(ConfigurationError);
    expect(new HttpError('x', { status: 500 })).not.toBeInstanceOf(OAuthError);
    expect(new Error('plain')).not.toBeInstanceOf(M2MTokenError);
    expect({ code: 'M2M_HTTP_ERROR', status: 500 }).not.toBeInstanceOf(HttpError);
    expect(null).not.toBeInstanceOf(M2MTokenError);
  });

  it('ConfigurationError names the option in a field and in the message', () => {
    const error = new ConfigurationError('clientSecret', 'is required for client_secret_post');
    expect(error.option).toBe('clientSecret');
    expect(error.message).toBe('options.clientSecret: is required for client_secret_post');
  });

  it('OAuthError carries the RFC 6749 5.2 fields and the status', () => {
    const full = new OAuthError({
      error: 'invalid_scope',
      errorDescription: 'unknown scope',
      errorUri: 'https://idp.test/e',
      status: 400,
    });
    expect(full).toMatchObject({
      error: 'invalid_scope',
      errorDescription: 'unknown scope',
      errorUri: 'https://idp.test/e',
      status: 400,
    });
    expect(full.message).toBe('token endpoint answered 400 invalid_scope: unknown scope');
    const bare = new OAuthError({ error: 'invalid_client', status: 401 });
    expect(bare.message).toBe('token endpoint answered 401 invalid_client');
    expect(Object.keys(bare)).not.toContain('errorDescription');
    expect(inspect(bare)).not.toContain('undefined');
  });

  it('HttpError carries status, bodySnippet and retryAt only when given', () => {
    const error = new HttpError('token endpoint answered 502', { status: 502, bodySnippet: '<html>' });
    expect(error).toMatchObject({ status: 502, bodySnippet: '<html>' });
    expect(Object.hasOwn(error, 'retryAt')).toBe(false);
    const later = new HttpError('later', {
      status: 503,
      retryAt: 1_700_000_000_000,
      code: ErrorCode.RETRY_LATER,
    });
    expect(later.retryAt).toBe(1_700_000_000_000);
    expect(Object.hasOwn(later, 'bodySnippet')).toBe(false);
  });

  it('keeps a cause as the standard `cause`', () => {
    const cause = new TypeError('fetch failed');
    expect(new DiscoveryError('https://idp.test/', 'could not fetch', { cause }).cause).toBe(cause);
    expect(new HttpError('x', { status: 500, cause }).cause).toBe(cause);
    expect(Object.hasOwn(new HttpError('x', { status: 500 }), 'cause')).toBe(false);
  });

  it('serialises its fields (code, status...) with JSON.stringify of own properties', () => {
    const error = new OAuthError({ error: 'invalid_client', errorDescription: 'bad', status: 401 });
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      name: 'OAuthError',
      code: 'M2M_OAUTH_ERROR',
      error: 'invalid_client',
      errorDescription: 'bad',
      status: 401,
    });
  });
});

describe('instanceof across duplicate installs', () => {
  // What a second copy of the package looks like (minified: its classes renamed): its own classes,
  // whose prototypes carry the same Symbol.for brand with the class chain by literal names.
  const brand = Symbol.for('m2m-token.error.chain');
  class a extends Error {
    constructor(
      message: string,
      readonly code: string,
    ) {
      super(message);
    }
  }
  class b extends a {}
  Object.defineProperty(a.prototype, brand, { value: ['M2MTokenError'] });
  Object.defineProperty(b.prototype, brand, { value: ['HttpError', 'M2MTokenError'] });

  it('an error from another copy is an instance of this copy’s classes of the same literal name', () => {
    const foreign = new b('x', 'M2M_HTTP_ERROR');
    expect(foreign).toBeInstanceOf(M2MTokenError);
    expect(foreign).toBeInstanceOf(HttpError);
    expect(foreign).not.toBeInstanceOf(OAuthError);
    expect(foreign).not.toBeInstanceOf(ConfigurationError);
  });

  it('a class name alone does not make an instance: the brand does', () => {
    class HttpErrorLookalike extends Error {}
    Object.defineProperty(HttpErrorLookalike, 'name', { value: 'HttpError' });
    expect(new HttpErrorLookalike('x')).not.toBeInstanceOf(HttpError);
    expect(new HttpErrorLookalike('x')).not.toBeInstanceOf(M2MTokenError);
  });

  it("a user's subclass keeps its own name and the ordinary instanceof", () => {
    class MyConfigError extends ConfigurationError {}
    const mine = new MyConfigError('clientId', 'x');
    expect(mine.name).toBe('MyConfigError');
    expect(mine).toBeInstanceOf(MyConfigError);
    expect(mine).toBeInstanceOf(ConfigurationError);
    expect(mine).toBeInstanceOf(M2MTokenError);
    expect(new ConfigurationError('clientId', 'x')).not.toBeInstanceOf(MyConfigError);
  });

  it('the brand is not enumerable (it does not show up in JSON)', () => {
    const error = new HttpError('x', { status: 500 });
    expect(Object.keys(error)).not.toContain(String(brand));
    expect(JSON.stringify(error)).not.toContain('m2m-token.error');
  });
});
