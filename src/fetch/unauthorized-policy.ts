/**
 * The answer to a 401, in one place, for every HTTP-client integration (the fetch wrapper, the undici
 * interceptor, axios): what the challenge means (challenge.ts), which token to drop (the one sent, and
 * only it), the per-key limit on forced refreshes (kept by the token manager), and the replay rules (a
 * request is repeated at most once per reason, and only when its body can be sent again).
 */
import type { SelectedTokens } from '../internal.js';
import type { Token } from '../types.js';
import { unauthorizedAction } from './challenge.js';
import type { SentScheme } from './shared.js';

/** What the policy reads from an answer. */
export interface AnswerHead {
  readonly status: number;
  /** The `WWW-Authenticate` value(s), joined by ", " when repeated. */
  readonly wwwAuthenticate: string | null | undefined;
  /** The answer carries a `DPoP-Nonce` header. */
  readonly dpopNonce: boolean;
}

/** A repeat to make: the token to send it with (`undefined`: none to be had, hand the 401 over). */
export interface Replay {
  readonly reason: 'refresh' | 'nonce';
  /** Started at once (a refresh runs while a 401's body still arrives). */
  readonly token: Promise<Token | undefined>;
}

const ignore = (): void => undefined;

/**
 * The 401 policy of one request (one per call: it remembers what was repeated already).
 *
 * - A 401 whose challenge refuses the token (challenge.ts, RFC 6750 3.1): the token is reported as
 *   rejected (the manager drops it, only it, and obtains another unless rate-limited), and the request is
 *   repeated once with the new token. A second 401 is handed over.
 * - RFC 9449 9 `use_dpop_nonce` with a `DPoP-Nonce`: repeated once with a fresh proof, same token.
 * - Anything else, or a body that cannot be sent again (a stream): no repeat.
 */
export class UnauthorizedPolicy {
  readonly #tokens: SelectedTokens;
  readonly #replayable: boolean;
  #refreshed = false;
  #renonced = false;

  constructor(tokens: SelectedTokens, replayable: boolean) {
    this.#tokens = tokens;
    this.#replayable = replayable;
  }

  /** What to do with an answer to a request that carried `token`: a {@link Replay}, or undefined. */
  replayFor(answer: AnswerHead, token: Token, scheme: SentScheme, signal?: AbortSignal): Replay | undefined {
    if (answer.status !== 401 || !this.#replayable) return undefined;
    const action = unauthorizedAction(answer.wwwAuthenticate, scheme, answer.dpopNonce);
    if (action === 'nonce' && !this.#renonced) {
      this.#renonced = true;
      return { reason: 'nonce', token: Promise.resolve(token) };
    }
    if (action === 'refresh' && !this.#refreshed) {
      this.#refreshed = true;
      const next = this.#tokens.rejected(token, signal);
      // Awaited by the caller once the 401 is dealt with; this keeps an early rejection from being unhandled.
      next.catch(ignore);
      return { reason: 'refresh', token: next };
    }
    return undefined;
  }
}
