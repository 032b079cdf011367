/** Small helpers shared by several modules. */

/**
 * True for the hosts that may receive credentials over plain http: `localhost`, 127.0.0.0/8 and ::1
 * (RFC 8252 8.3). Not a name under `.localhost`: RFC 6761 6.3 lets resolvers answer those with loopback,
 * but glibc sends them to DNS like any other name, so a DNS answer could take the credentials elsewhere.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (host === 'localhost') return true;
  if (host === '::1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** `undefined` -> [], a string -> [s], an array -> a copy. */
export function toArray(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  return typeof value === 'string' ? [value] : [...value];
}

/** Sorted, without duplicates. */
export function sortedSet(values: readonly string[]): string[] {
  if (values.length <= 1) return values.slice();
  return [...new Set(values)].sort();
}

/**
 * Abort listeners shared per signal: one `abort` listener per AbortSignal, however many waits use it,
 * so that 50 concurrent calls sharing one signal never trip Node's MaxListenersExceededWarning.
 */
const abortWaiters = new WeakMap<AbortSignal, Set<() => void>>();

/** Calls `onAbort` once when `signal` aborts; returns the function that cancels it. */
function onAbort(signal: AbortSignal, onAbortCallback: () => void): () => void {
  let waiters = abortWaiters.get(signal);
  if (waiters === undefined) {
    const set = new Set<() => void>();
    waiters = set;
    abortWaiters.set(signal, set);
    signal.addEventListener(
      'abort',
      () => {
        abortWaiters.delete(signal);
        for (const waiter of set) waiter();
        set.clear();
      },
      { once: true },
    );
  }
  const set = waiters;
  set.add(onAbortCallback);
  // The one listener stays while the signal lives (a WeakMap entry, a closed-over Set): removing it when
  // the set empties would re-add it for the next wait, which costs more than it saves.
  return () => {
    set.delete(onAbortCallback);
  };
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const cancel = signal
      ? onAbort(signal, () => {
          clearTimeout(timer);
          reject(signal.reason);
        })
      : undefined;
    const timer = setTimeout(() => {
      cancel?.();
      resolve();
    }, ms);
  });
}

/** Waits for `promise`, but rejects at once when `signal` aborts (the promise itself goes on). */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const cancel = onAbort(signal, () => reject(signal.reason));
    promise.then(
      (value) => {
        cancel();
        resolve(value);
      },
      (error: unknown) => {
        cancel();
        reject(error);
      },
    );
  });
}

const encoder = new TextEncoder();
export function utf8(value: string): Uint8Array {
  return encoder.encode(value);
}

/** base64, padded (RFC 4648 4). */
export function base64(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** base64url without padding (RFC 4648 5). */
export function base64url(bytes: Uint8Array): string {
  return base64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * Form-urlencodes a client id or secret for the Basic header (RFC 6749 2.3.1 and Appendix B):
 * the RFC 3986 unreserved characters (letters, digits, `-._~`) stay as they are, a space becomes `+`,
 * everything else is percent-encoded as UTF-8. Servers that decode (as the RFC requires) get the
 * exact value back; servers that never decode still see typical ids (`my-client.v2`) unchanged.
 */
export function formUrlEncodeCredential(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}
