import type { AssertionSource } from '../credentials/index.js';
import { CLIENT_ASSERTION_TYPE, type ClientAuthenticator } from './types.js';

/**
 * private_key_jwt with an assertion made elsewhere (RFC 7521 4.2, RFC 7523 2.2): workload identity
 * federation. The client holds no secret and no key: each attempt sends the assertion its source gives
 * now (a function's newest, a file's current content), with `client_id` and the jwt-bearer type.
 */
export function clientAssertion(clientId: string, source: AssertionSource): ClientAuthenticator {
  return {
    method: 'private_key_jwt',
    bodyFormat: 'form',
    async apply(parts) {
      const assertion = await source.next();
      parts.params.push(
        ['client_id', clientId],
        ['client_assertion_type', CLIENT_ASSERTION_TYPE],
        ['client_assertion', assertion],
      );
    },
    // The assertion of a request is removed from what its answer makes us show by the request itself
    // (token-errors.ts sentCredentials): this authenticator keeps none.
    redact: (text) => text,
    describe: () => ({ method: 'private_key_jwt', clientId, assertionSource: source.option }),
  };
}
