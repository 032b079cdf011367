/**
 * Basic auto-detection: RFC 6749 2.3.1 asks a client to form-urlencode its
 * id and secret before base64, and m2m-token does; many servers (Glewlwyd, @node-oauth/oauth2-server,
 * several hosted providers) compare the raw Basic values instead, so a secret holding `+ / = : %` (any
 * base64 secret) is refused there. Like golang.org/x/oauth2's AuthStyleAutoDetect, the client then
 * tries the other forms once and remembers what worked:
 *
 *   1. client_secret_basic (form-urlencoded)   what RFC 6749 asks for; always first
 *   2. client_secret_basic (raw)               after a refused client, once
 *   3. client_secret_post                      after that, once, only when `authMethod` was not set
 *
 * Only when `basicAuthEncoding` was not set and the encoded credentials differ from the raw ones (for
 * any other client both forms are the same bytes, so there is nothing to detect). A `clientSecret`
 * function is judged by its current value, and every form sends its current value. What the user set
 * explicitly is never switched. A client id holding ':' skips the raw form (RFC 7617 2: the first ':'
 * is the separator, so a raw id would be split). With discovery, client_secret_post is tried only when
 * the server lists it (or lists nothing).
 *
 * "Refused" means what a server says about the credentials: `invalid_client` (RFC 6749 5.2), or a 401
 * or 403 to the token request (Glewlwyd answers every authentication failure with an empty 403). Any
 * other failure (network, 5xx, invalid_scope, ...) says nothing about the encoding and ends the
 * detection with that error.
 *
 * When no form works, the error is the first refusal's: the answer to what RFC 6749 asks for, whose
 * message names `basicAuthEncoding`. Nothing is remembered then, so the next call detects again (a
 * wrong secret costs at most three requests per call, never a loop). Once a form worked it is used
 * alone for every later request of this client.
 */

import type { RotatingCredential } from '../credentials/index.js';
import { ErrorCode, HttpError, OAuthError } from '../errors.js';
import { refusesClient } from '../http/token-errors.js';
import type { ClientCredentialsClientOptions } from '../options/index.js';
import type { AuthFallbackForm, AuthMethod } from '../types.js';
import { formUrlEncodeCredential } from '../util.js';
import { clientSecretBasic } from './client-secret-basic.js';
import { clientSecretPost } from './client-secret-post.js';
import { rotatingAuthenticator } from './rotating-authenticator.js';
import type { ClientAuthenticator } from './types.js';

interface AuthForm {
  readonly label: AuthFallbackForm;
  readonly auth: ClientAuthenticator;
}

/** A switch from one form to the next, reported as the `auth_fallback` event. */
export interface AuthFallbackNotice {
  readonly from: AuthFallbackForm;
  readonly to: AuthFallbackForm;
}

/**
 * True when the server refused the client's credentials: `invalid_client` (RFC 6749 5.2), or a 401/403
 * answer to the token request with or without an OAuth error body.
 */
export function isRefusedClient(error: unknown): boolean {
  // The rule itself lives with the refusal hints (http/token-errors.ts): one definition of "refused".
  if (error instanceof OAuthError) return refusesClient(error.status, error.error);
  return error instanceof HttpError && error.code === ErrorCode.HTTP && refusesClient(error.status);
}

/** True when form-urlencoding changes the id or the secret (so the raw form is a different header). */
function encodingChangesCredentials(clientId: string, clientSecret: string): boolean {
  return (
    formUrlEncodeCredential(clientId) !== clientId || formUrlEncodeCredential(clientSecret) !== clientSecret
  );
}

/**
 * One per client: builds the fallback forms once, and remembers which form worked, so that later token
 * requests cost one request each. First requests for other keys that start while a detection runs wait
 * for it instead of detecting in parallel.
 */
export class BasicAutoDetect {
  readonly #options: ClientCredentialsClientOptions;
  /** A `clientSecret` given as a function. */
  readonly #secret: RotatingCredential<string> | undefined;
  readonly #eligible: boolean;
  /** The fallbacks of one primary authenticator (discovery may replace the primary). */
  #chain: { readonly primary: ClientAuthenticator; readonly forms: readonly AuthForm[] } | undefined;
  /** What worked last, for that primary. */
  #worked: { readonly primary: ClientAuthenticator; readonly form: AuthForm } | undefined;
  /** Settles when the detection under way ends: concurrent first requests (other keys) wait for it. */
  #detecting: Promise<unknown> | undefined;

  constructor(options: ClientCredentialsClientOptions, secret?: RotatingCredential<string>) {
    this.#options = options;
    this.#secret = secret;
    const value = options.clientSecret;
    this.#eligible =
      options.basicAuthEncoding === undefined &&
      (options.authMethod === undefined || options.authMethod === 'client_secret_basic') &&
      (typeof value === 'string'
        ? encodingChangesCredentials(options.clientId, value)
        : secret !== undefined);
  }

  /**
   * Sends with the authenticator that worked before, else with `primary` and, after a refused client,
   * the fallbacks in order. `listedMethods`: the server's token_endpoint_auth_methods_supported, when
   * discovered. Resolves to the result and the authenticator that got it.
   */
  async send<T>(
    primary: ClientAuthenticator,
    listedMethods: readonly string[] | undefined,
    attempt: (auth: ClientAuthenticator) => Promise<T>,
    onFallback?: (notice: AuthFallbackNotice) => void,
  ): Promise<{ readonly result: T; readonly auth: ClientAuthenticator }> {
    if (
      !this.#eligible ||
      primary.method !== 'client_secret_basic' ||
      (this.#secret !== undefined &&
        !encodingChangesCredentials(this.#options.clientId, await this.#secret.current()))
    ) {
      return { result: await attempt(primary), auth: primary };
    }
    // Another key's first request is detecting: its answer decides ours (one wait, never a loop).
    if (this.#worked?.primary !== primary && this.#detecting !== undefined) await this.#detecting;
    const worked = this.#worked?.primary === primary ? this.#worked.form : undefined;
    if (worked !== undefined) return { result: await attempt(worked.auth), auth: worked.auth };

    const detection = this.#detect(primary, listedMethods, attempt, onFallback);
    const settled = detection.then(
      () => undefined,
      () => undefined,
    );
    this.#detecting = settled;
    void settled.then(() => {
      if (this.#detecting === settled) this.#detecting = undefined;
    });
    return detection;
  }

  async #detect<T>(
    primary: ClientAuthenticator,
    listedMethods: readonly string[] | undefined,
    attempt: (auth: ClientAuthenticator) => Promise<T>,
    onFallback: ((notice: AuthFallbackNotice) => void) | undefined,
  ): Promise<{ readonly result: T; readonly auth: ClientAuthenticator }> {
    const forms = this.#formsFor(primary, listedMethods);
    let firstRefusal: unknown;
    const refusedForms: AuthFallbackForm[] = [];
    for (let i = 0; i < forms.length; i++) {
      const form = forms[i] as AuthForm;
      if (i > 0) onFallback?.({ from: (forms[i - 1] as AuthForm).label, to: form.label });
      try {
        const result = await attempt(form.auth);
        this.#worked = { primary, form };
        return { result, auth: form.auth };
      } catch (error) {
        const refused = isRefusedClient(error);
        // The first form failing otherwise says nothing about the credentials' form.
        if (i === 0 && !refused) throw error;
        firstRefusal ??= error;
        // A later form failing otherwise (a network error, a server without client_secret_post
        // answering 400) ends the detection with the first refusal, the answer about what RFC 6749 asks.
        if (!refused) break;
        refusedForms.push(form.label);
      }
    }
    // The first refusal's hint may point at the encoding; say that the other forms were refused too.
    if (firstRefusal instanceof Error && refusedForms.length > 1) {
      firstRefusal.message += ` Basic auto-detection also tried ${refusedForms.slice(1).join(' and ')}, refused as well: the encoding is not the cause; check the client id and secret.`;
    }
    throw firstRefusal;
  }

  #formsFor(primary: ClientAuthenticator, listedMethods: readonly string[] | undefined): readonly AuthForm[] {
    if (this.#chain?.primary === primary) return this.#chain.forms;
    const o = this.#options;
    const secret = this.#secret;
    const withSecret = (method: AuthMethod, build: (value: string) => ClientAuthenticator) =>
      secret !== undefined
        ? rotatingAuthenticator(method, o.clientId, secret, build)
        : build(o.clientSecret as string);
    const forms: AuthForm[] = [{ label: 'client_secret_basic (form-urlencoded)', auth: primary }];
    // RFC 7617 2: a raw id holding ':' would move the separator.
    if (!o.clientId.includes(':')) {
      forms.push({
        label: 'client_secret_basic (raw)',
        auth: withSecret('client_secret_basic', (value) => clientSecretBasic(o.clientId, value, 'none')),
      });
    }
    const post: AuthMethod = 'client_secret_post';
    if (o.authMethod === undefined && (listedMethods === undefined || listedMethods.includes(post))) {
      forms.push({
        label: post,
        auth: withSecret(post, (value) => clientSecretPost(o.clientId, value)),
      });
    }
    this.#chain = { primary, forms };
    return forms;
  }
}
