/**
 * The answer to a 401, in one place, for every HTTP-client integration (the fetch wrapper, the undici
 * interceptor, axios): which answers it concerns ({@link isUnauthorized}), what the challenge means
 * (challenge.ts), which token to drop (the one sent, and only it; the per-key limit on forced refreshes
 * is the token manager's, manager/rejection.ts), and the replay rules (a request is repeated at most once
 * per reason, and only when its body can be sent again). The fetch wrapper and axios run it with
 * {@link sendWithToken}; the undici interceptor, whose answers arrive as events, asks
 * {@link UnauthorizedPolicy.replayFor} itself.
 */
import type { SelectedTokens } from '../internal.js';
import type { Token } from '../types.js';
import { unauthorizedAction } from './challenge.js';
import type { SentScheme } from './shared.js';

/** What the policy reads from an answer. */
export interface AnswerHead {
  readonly status: number;
  /**
   * The scheme our token went with on the request that got this answer; undefined when that request
   * carried none (a redirect hop that left the first origin).
   */
  readonly scheme: SentScheme | undefined;
  /** A header of the answer (repeated values joined by ", "); null or undefined when absent. */
  header(name: 'www-authenticate' | 'dpop-nonce'): string | null | undefined;
}

/** The 401 rule's scope: an answer is the policy's only when it is a 401 to a request with our token. */
export function isUnauthorized(status: number, scheme: SentScheme | undefined): boolean {
  return status === 401 && scheme !== undefined;
}

const ignore = (): void => undefined;

/**
 * The 401 policy of one request (it remembers what was repeated already); made on the request's first
 * 401, never for the answers that are not one.
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

  /**
   * The token to repeat a request with, for an answer that {@link isUnauthorized} to a request that
   * carried `token`; undefined: no repeat, the 401 is the answer. The promise is started at once (a
   * refresh runs while a 401's body still arrives); it resolves to undefined when there is no other
   * token to be had (rate-limited, or the token endpoint handed out the same one).
   */
  replayFor(answer: AnswerHead, token: Token, signal?: AbortSignal): Promise<Token | undefined> | undefined {
    if (!this.#replayable || answer.scheme === undefined) return undefined;
    const action = unauthorizedAction(
      answer.header('www-authenticate'),
      answer.scheme,
      Boolean(answer.header('dpop-nonce')),
    );
    if (action === 'nonce' && !this.#renonced) {
      this.#renonced = true;
      return Promise.resolve(token);
    }
    if (action === 'refresh' && !this.#refreshed) {
      this.#refreshed = true;
      const next = this.#tokens.rejected(token, signal);
      // Awaited by the caller once the 401 is dealt with; this keeps an early rejection from being unhandled.
      next.catch(ignore);
      return next;
    }
    return undefined;
  }
}

/** A request as {@link sendWithToken} sees it. */
export interface TokenCall {
  /** Its body can be sent again (no body, or one that is not a stream). */
  readonly replayable: boolean;
  /** The caller's signal: it ends a refresh the 401 started too. */
  readonly signal: AbortSignal | undefined;
}

/** How an integration sends a request and lets go of an answer, for {@link sendWithToken}. */
export interface Exchange<C extends TokenCall, A extends AnswerHead> {
  /** The tokens of the integration's selection. */
  readonly tokens: SelectedTokens;
  /** Sends `call` with `token` (following its redirects, if the integration does). */
  send(call: C, token: Token): Promise<A>;
  /** Frees an answer that is not handed over (a 401 whose request is repeated). */
  discard(answer: A): void;
}

/**
 * Sends `call` with `token` and answers a 401 as the policy says: the request is repeated with the next
 * token (at most once per reason) and the last answer is returned; a token request that fails rejects.
 */
export async function sendWithToken<C extends TokenCall, A extends AnswerHead>(
  exchange: Exchange<C, A>,
  call: C,
  token: Token,
): Promise<A> {
  let answer = await exchange.send(call, token);
  let policy: UnauthorizedPolicy | undefined;
  for (;;) {
    if (!isUnauthorized(answer.status, answer.scheme)) return answer;
    policy ??= new UnauthorizedPolicy(exchange.tokens, call.replayable);
    const replay = policy.replayFor(answer, token, call.signal);
    // No repeat: the 401 is the answer. (A nonce it carried was remembered; the next proof has it.)
    if (replay === undefined) return answer;
    let next: Token | undefined;
    try {
      next = await replay;
    } catch (error) {
      exchange.discard(answer);
      throw error;
    }
    // Rate-limited (or the token endpoint handed out the same token): the 401 is the answer.
    if (next === undefined) return answer;
    exchange.discard(answer);
    token = next;
    answer = await exchange.send(call, token);
  }
}
