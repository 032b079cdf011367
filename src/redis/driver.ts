/**
 * The few Redis commands RedisTokenCache needs, sent through whichever client the user passes: node-redis
 * (`redis` v4/v5, single node or cluster) or ioredis (single node or cluster). Found by duck typing, so
 * neither package is imported at runtime: both are optional peer dependencies.
 */

/**
 * A connected Redis client: a node-redis (`redis`) client or cluster, or an ioredis `Redis` or `Cluster`.
 * Typed structurally so that this package's types never require either package to be installed.
 */
export type RedisClientLike =
  | {
      /** ioredis: sends a raw command. */
      readonly call: (...args: never[]) => unknown;
    }
  | {
      /** node-redis: sends a raw command. */
      readonly sendCommand: (...args: never[]) => unknown;
    };

/**
 * Sends one command. `key` is the key it touches (for cluster routing). `abort`, when there is one, drops
 * the command if it is still waiting in the client's offline queue (node-redis), so that a command given up
 * on is not run later.
 */
export type SendCommand = (args: readonly string[], key: string) => Sent;

export interface Sent {
  readonly reply: Promise<CommandReply>;
  readonly abort?: () => void;
}

/** A reply as the driver gives it: a string, a Buffer, a number, null, or an array of those. */
export type CommandReply = unknown;

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

/** Returns a sender for the client, or undefined when it is neither node-redis nor ioredis. */
export function commandSender(client: unknown): SendCommand | undefined {
  if (typeof client !== 'object' || client === null) return undefined;
  const c = client as Record<string, unknown>;
  // ioredis (Redis and Cluster): call(command, ...args). Checked first: ioredis also has a sendCommand,
  // which takes a Command object. ioredis has no per-command abort.
  if (typeof c.call === 'function') {
    const call = c.call as AnyFunction;
    return (args) => ({ reply: toPromise(call.call(client, ...args)) });
  }
  if (typeof c.sendCommand !== 'function') return undefined;
  const send = c.sendCommand as AnyFunction;
  // node-redis v5 reads `abortSignal`, v4 reads `signal`; each ignores the other.
  const withAbort = (run: (options: object | undefined) => unknown): Sent => {
    const controller = new AbortController();
    const { signal } = controller;
    return { reply: toPromise(run({ abortSignal: signal, signal })), abort: () => controller.abort() };
  };
  if ('masters' in c && typeof c.nodeClient === 'function') {
    // node-redis cluster: sendCommand(firstKey, isReadonly, args, options). Never marked read-only: reads
    // go to the primary, so a waiter sees the token the lock holder has just stored.
    return (args, key) => withAbort((options) => send.call(client, key, false, args, options));
  }
  // node-redis client: sendCommand(args, options). While it is ready, a command is written at once, so
  // there is nothing to abort later: no AbortController (and no listener) per command then.
  return (args) =>
    c.isReady === true
      ? { reply: toPromise(send.call(client, args)) }
      : withAbort((options) => send.call(client, args, options));
}

function toPromise(value: unknown): Promise<unknown> {
  return value instanceof Promise ? value : Promise.resolve(value);
}

/** A reply as text: node-redis may map bulk strings to Buffers when the user configured it so. */
export function replyText(reply: unknown): string | null {
  if (reply === null || reply === undefined) return null;
  if (typeof reply === 'string') return reply;
  if (reply instanceof Uint8Array)
    return Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength).toString('utf8');
  return String(reply);
}

/**
 * True for an error the server itself answered with (WRONGTYPE, LOADING, ...): Redis is reachable. Whether
 * it is a failure of the server depends on its code (see {@link serverUnwell}).
 */
export function isReplyError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const names = [error.name, error.constructor?.name];
  return names.some(
    (name) =>
      name === 'ReplyError' || name === 'ErrorReply' || name === 'SimpleError' || name === 'BlobError',
  );
}

/** The error code a Redis error reply starts with (`WRONGTYPE`, `LOADING`, ...), or `ERR`. */
export function replyErrorCode(error: unknown): string {
  const message = error instanceof Error ? error.message : '';
  const code = /^[A-Z][A-Z_-]*/.exec(message)?.[0];
  return code !== undefined && code.length <= 32 ? code : 'ERR';
}

/**
 * Error replies that say the server cannot serve anyone right now: loading its data, a cluster without all
 * its slots, a replica or a failover, out of memory, a script that does not end, refused writes, an
 * authentication or permission problem. They count as a Redis failure (the cache pauses); any other error
 * reply (WRONGTYPE on one key, a script error) is about the call alone.
 */
const UNWELL = new Set([
  'LOADING',
  'BUSY',
  'MASTERDOWN',
  'CLUSTERDOWN',
  'TRYAGAIN',
  'READONLY',
  'OOM',
  'MISCONF',
  'NOREPLICAS',
  'NOAUTH',
  'NOPERM',
  'WRONGPASS',
]);

export function serverUnwell(code: string): boolean {
  return UNWELL.has(code);
}
