/**
 * Which hosts count as loopback for the http exemption (credentials over plain http without
 * `allowInsecureHttp`): `localhost`, 127.0.0.0/8 and [::1] only. A name under `.localhost` is not one:
 * glibc resolves `*.localhost` through DNS like any other name, and a review reproduced a DNS answer
 * of a non-loopback address receiving Basic credentials over plain http.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  ConfigurationError,
  DiscoveryError,
} from '../../src/index.js';
import { testClient } from '../helpers/clients.js';
import { type LoopbackServer, startLoopbackServer } from '../helpers/loopback-server.js';
import { rejectionOf, thrownBy } from '../helpers/outcomes.js';

const base = { clientId: 'c', clientSecret: 'loopback-secret' } as const;

function client(options: Partial<ClientCredentialsClientOptions>): ClientCredentialsClient {
  return testClient({ ...base, retry: false, ...options });
}

describe('the http exemption is for localhost, 127.0.0.0/8 and [::1] only', () => {
  it.each([
    ['a name under .localhost', 'http://idp.localhost/token'],
    ['a deeper name under .localhost', 'http://a.b.localhost:8080/token'],
    ['a name that ends in localhost without the dot', 'http://notlocalhost/token'],
  ])('http to %s: ConfigurationError naming tokenEndpoint', (_name, tokenEndpoint) => {
    const error = thrownBy(() => client({ tokenEndpoint }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ option: 'tokenEndpoint' });
    expect((error as Error).message).toMatch(/http: is only allowed for loopback hosts/);
  });

  it.each([
    ['localhost', 'http://localhost:4000/token'],
    ['127.0.0.1', 'http://127.0.0.1:4000/token'],
    ['another 127/8 address', 'http://127.3.2.1/token'],
    ['[::1]', 'http://[::1]:4000/token'],
  ])('http to %s needs no flag', (_name, tokenEndpoint) => {
    expect(() => client({ tokenEndpoint })).not.toThrow();
  });

  it('a name under .localhost over http needs allowInsecureHttp (or https)', () => {
    expect(() =>
      client({ tokenEndpoint: 'http://idp.localhost/token', allowInsecureHttp: true }),
    ).not.toThrow();
    expect(() => client({ tokenEndpoint: 'https://idp.localhost/token' })).not.toThrow();
  });

  it('the issuer option follows the same rule', () => {
    const error = thrownBy(() => client({ issuer: 'http://idp.localhost/' }));
    expect(error).toMatchObject({ name: 'ConfigurationError', option: 'issuer' });
  });
});

describe('discovered endpoints follow the same rule', () => {
  let server: LoopbackServer;
  beforeAll(async () => {
    server = await startLoopbackServer();
  });
  afterAll(() => server.close());

  it('metadata naming an http token endpoint under .localhost: DiscoveryError, no credentials sent', async () => {
    server.answer((request) =>
      request.path === '/.well-known/oauth-authorization-server'
        ? { json: { issuer: server.origin, token_endpoint: 'http://idp.localhost/token' } }
        : { status: 404 },
    );
    const sent: string[] = [];
    const error = await rejectionOf(
      client({
        issuer: server.origin,
        fetch: (input, init) => {
          sent.push(String(input));
          return fetch(input, init);
        },
      }).getToken(),
    );
    expect(error).toBeInstanceOf(DiscoveryError);
    expect((error as Error).message).toMatch(
      /token_endpoint: http: is only allowed for loopback hosts, not idp\.localhost/,
    );
    expect(sent).toEqual([`${server.origin}/.well-known/oauth-authorization-server`]);
  });
});
