/**
 * The client the tests use: a ClientCredentialsClient with test defaults that any option overrides.
 *
 *   const client = testClient({ fetch: endpoint.fetch });        // ENDPOINT, 'svc' / 'svc-secret', no retries
 *   const client = testClient({ tokenEndpoint: server.url, retry: FAST_RETRY, cache: false });
 *
 * The secret is added only when no other credential is given (privateKey, a client assertion, a
 * certificate for mTLS), and the token endpoint only when no issuer is.
 */
import { ClientCredentialsClient, type ClientCredentialsClientOptions } from '../../src/index.js';
import { ENDPOINT } from './token-endpoint.js';

export const CLIENT_ID = 'svc';
export const CLIENT_SECRET = 'svc-secret';

/** The library's own retry policy (testClient's default is no retries). */
export const DEFAULT_RETRY = {} as const;

/** Retries without waiting more than a few milliseconds (the policy itself is tested with fake timers). */
export const FAST_RETRY = { retries: 2, minTimeout: 1, maxTimeout: 5, randomize: false } as const;

const OTHER_CREDENTIALS = [
  'clientSecret',
  'privateKey',
  'clientAssertion',
  'clientAssertionFile',
  'certificate',
] as const;

export function testClient(options: Partial<ClientCredentialsClientOptions> = {}): ClientCredentialsClient {
  const credential = OTHER_CREDENTIALS.some((name) => name in options) ? {} : { clientSecret: CLIENT_SECRET };
  const endpoint = 'issuer' in options ? {} : { tokenEndpoint: ENDPOINT };
  return new ClientCredentialsClient({
    ...endpoint,
    clientId: CLIENT_ID,
    ...credential,
    retry: false,
    ...options,
  } as ClientCredentialsClientOptions);
}
