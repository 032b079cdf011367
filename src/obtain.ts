/**
 * The obtain function the token manager is given (docs/architecture.md): one token request for a key,
 * the steps around it and the events that tell its story, each naming the request by a `requestId` so
 * that a listener can match its end to its start. The steps, outermost first:
 *
 * 1. credential rotation: after a refused client, a secret or key given as a function is asked for
 *    again and, if it changed, the request is repeated once (credentials/rotating.ts);
 * 2. Basic auto-detection: after a refused client, the other Basic forms (auth/basic-auto-detect.ts);
 * 3. the token request with its retries (http/token-request.ts).
 *
 * "Refused" is one rule for both steps (isRefusedClient): `invalid_client`, or a 401/403 to the token
 * request (Glewlwyd answers an empty 403). A rotation is tried after the detection has tried every
 * form with the old value, and once only: a wrong secret costs at most one more round, never a loop.
 */
import { type BasicAutoDetect, isRefusedClient } from './auth/basic-auto-detect.js';
import { type Clock, systemClock } from './clock.js';
import type { RotatingCredential } from './credentials/index.js';
import { type EventSink, nextRequestId } from './events.js';
import { isScopeReduced } from './http/granted-scope.js';
import { shownUrl } from './http/token-errors.js';
import { type AttemptCounter, requestToken, type TokenRequestSettings } from './http/token-request.js';
import type { ObtainToken } from './manager/token-manager.js';
import { describeError } from './redact/index.js';
import type { ServerInfo } from './server.js';

export interface ObtainContext {
  /** Where token requests go and how the client authenticates there (discovery may run first). */
  readonly server: () => Promise<ServerInfo>;
  readonly http: TokenRequestSettings;
  readonly basicAutoDetect: BasicAutoDetect;
  /** The secret or key given as a function, if any. */
  readonly rotating?: Pick<RotatingCredential<unknown>, 'option' | 'generation' | 'renew'>;
  readonly events: EventSink;
  /** The clock of the events' durations (monotonic). */
  readonly clock?: Clock;
}

/** Builds the obtain function of a client. */
export function createObtain(context: ObtainContext): ObtainToken {
  const { http, basicAutoDetect, rotating, events } = context;
  const clock = context.clock ?? systemClock;
  return async (request, signal, trigger) => {
    const server = await context.server();
    const started = clock.monotonic();
    const counter: AttemptCounter = { attempts: 0 };
    // Events are built only when someone listens; the id always (a listener may arrive meanwhile).
    const requestId = nextRequestId();
    if (events.active) {
      events.emit({
        type: 'token_request_start',
        key: request.info,
        authMethod: server.auth.method,
        requestId,
        endpoint: shownUrl(server.tokenEndpoint),
        trigger,
      });
    }
    const send = () =>
      basicAutoDetect.send(
        server.auth,
        server.listedAuthMethods,
        (auth) =>
          requestToken(
            { endpoint: server.tokenEndpoint, issuer: server.issuer, params: request.params, signal },
            auth,
            http,
            counter,
            events.active
              ? (notice) =>
                  events.emit({
                    type: 'token_request_retry',
                    key: request.info,
                    requestId,
                    attempt: notice.attempt,
                    delayMs: notice.delayMs,
                    error: describeError(notice.error, server.auth.redact),
                  })
              : undefined,
          ),
        events.active
          ? (notice) => events.emit({ type: 'auth_fallback', key: request.info, requestId, ...notice })
          : undefined,
      );
    try {
      let sent: Awaited<ReturnType<typeof send>>;
      const seen = rotating?.generation ?? 0;
      try {
        sent = await send();
      } catch (error) {
        if (rotating === undefined || !isRefusedClient(error)) throw error;
        const renewal = await rotating.renew(seen);
        if (!renewal.changed) throw error;
        if (renewal.fresh && events.active) {
          events.emit({
            type: 'credential_rotated',
            key: request.info,
            requestId,
            credential: rotating.option,
          });
        }
        sent = await send();
      }
      const { result, auth } = sent;
      if (events.active) {
        const requested = request.params.find(([name]) => name === 'scope')?.[1];
        if (isScopeReduced(requested, result.token.scope)) {
          events.emit({
            type: 'scope_reduced',
            key: request.info,
            requested: requested as string,
            granted: result.token.scope as string,
          });
        }
        events.emit({
          type: 'token_request_success',
          key: request.info,
          requestId,
          authMethod: auth.method,
          durationMs: clock.monotonic() - started,
          status: result.status,
          attempts: counter.attempts,
          expiresAt: result.token.expiresAt,
        });
      }
      return { token: result.token, sentAt: result.sentAt };
    } catch (error) {
      if (events.active) {
        events.emit({
          type: 'token_request_failure',
          key: request.info,
          requestId,
          authMethod: server.auth.method,
          durationMs: clock.monotonic() - started,
          status: counter.status,
          attempts: counter.attempts,
          error: describeError(error, server.auth.redact),
        });
      }
      throw error;
    }
  };
}
