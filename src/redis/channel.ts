/**
 * The one road to Redis for RedisTokenCache: each command with its timeout, and the health policy (what
 * counts as a Redis failure, and the pause after one).
 *
 * A failure is: no answer within `timeoutMs` of free event-loop time (see loop-clock.ts: a stalled or
 * saturated process is not an outage), a driver error (connection refused, reset, closed), or Redis
 * answering that it cannot serve (LOADING, CLUSTERDOWN, READONLY, OOM, ...). After a failure Redis is left
 * alone for 250 ms, doubling on each further failure up to 5 s, on the monotonic clock; any answer ends
 * the pause. An error Redis answers about one key (WRONGTYPE, a script error) is thrown but is no failure
 * of the server.
 */

import { systemClock } from '../clock.js';
import {
  type CommandReply,
  isReplyError,
  replyErrorCode,
  type SendCommand,
  type Sent,
  serverUnwell,
} from './driver.js';
import { RedisCacheError, RedisErrorCode } from './errors.js';
import { loopClock } from './loop-clock.js';

/** After a failed call, Redis is left alone for 250 ms, doubling on each further failure up to 5 s. */
const FIRST_PAUSE_MS = 250;
const MAX_PAUSE_MS = 5_000;

const noop = () => {};

export interface Call {
  /** The answer, or the error (timeout, failure, pause), with the health state kept. */
  readonly result: Promise<CommandReply>;
  /** The driver's own promise, which may still settle after `result` gave up (a late answer). */
  readonly raw: Promise<CommandReply>;
}

export class RedisChannel {
  readonly #send: SendCommand;
  readonly #timeoutMs: number;
  /** Consecutive failed calls, and until when (monotonic ms) Redis is left alone. */
  #failures = 0;
  #pausedUntil = 0;

  constructor(send: SendCommand, timeoutMs: number) {
    this.#send = send;
    this.#timeoutMs = timeoutMs;
  }

  /** False after a failure, until a call succeeds again. */
  get healthy(): boolean {
    return this.#failures === 0;
  }

  /** True while Redis is left alone after a failure. */
  get paused(): boolean {
    return this.#pausedUntil !== 0 && systemClock.monotonic() < this.#pausedUntil;
  }

  /** Throws `M2M_REDIS_UNAVAILABLE` while paused. */
  checkAvailable(command: string): void {
    if (this.paused) throw this.unavailable(command);
  }

  unavailable(command: string): RedisCacheError {
    const ms = Math.max(0, Math.ceil(this.#pausedUntil - systemClock.monotonic()));
    return new RedisCacheError(
      `Redis ${command} skipped: Redis failed recently, next attempt in ${ms} ms`,
      RedisErrorCode.UNAVAILABLE,
    );
  }

  /** Sends `args` (routed by `routingKey` on a cluster) and settles the health state with the outcome. */
  call(args: readonly string[], routingKey: string): Call {
    const command = args[0] as string;
    let sent: Sent;
    try {
      sent = this.#send(args, routingKey);
    } catch (error) {
      sent = { reply: Promise.reject(error) };
    }
    const raw = sent.reply;
    raw.catch(noop); // A reply that comes after the timeout is nobody's concern (see `raw`).
    const answer = new Promise<CommandReply>((resolve, reject) => {
      const cancel = loopClock.after(this.#timeoutMs, () => {
        sent.abort?.();
        reject(
          new RedisCacheError(
            `Redis did not answer ${command} within ${this.#timeoutMs} ms`,
            RedisErrorCode.TIMEOUT,
          ),
        );
      });
      raw.then(
        (reply) => {
          cancel();
          resolve(reply);
        },
        (error: unknown) => {
          cancel();
          reject(error);
        },
      );
    });
    return { result: this.#settle(answer, command), raw };
  }

  command(args: readonly string[], routingKey: string): Promise<CommandReply> {
    return this.call(args, routingKey).result;
  }

  async #settle(result: Promise<CommandReply>, command: string): Promise<CommandReply> {
    try {
      const reply = await result;
      this.#succeeded();
      return reply;
    } catch (error) {
      if (isReplyError(error)) {
        // Redis answered: it is reachable. Only an answer about the server itself is a failure.
        const code = replyErrorCode(error);
        if (serverUnwell(code)) this.#failed();
        else this.#succeeded();
        throw new RedisCacheError(
          `Redis answered ${command} with an error (${code})`,
          RedisErrorCode.ERROR_REPLY,
          {
            cause: error,
          },
        );
      }
      this.#failed();
      if (error instanceof RedisCacheError) throw error;
      const e = error as { code?: unknown; name?: unknown };
      const reason = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'error';
      // The original error stays as `cause`; the message carries no part of it (it could name a URL).
      throw new RedisCacheError(`Redis ${command} failed (${reason})`, RedisErrorCode.UNAVAILABLE, {
        cause: error,
      });
    }
  }

  #succeeded(): void {
    this.#failures = 0;
    this.#pausedUntil = 0;
  }

  #failed(): void {
    this.#failures += 1;
    this.#pausedUntil =
      systemClock.monotonic() + Math.min(MAX_PAUSE_MS, FIRST_PAUSE_MS * 2 ** (this.#failures - 1));
  }
}
