/** Small helpers shared by several modules. */

/** True for hosts that resolve to this machine: localhost, 127.0.0.0/8 and ::1 (RFC 8252 8.3). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
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

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Waits for `promise`, but rejects at once when `signal` aborts (the promise itself goes on). */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

const encoder = new TextEncoder();
export function utf8(value: string): Uint8Array {
  return encoder.encode(value);
}

/** base64url without padding. */
export function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A minimal description of an error for events: never the value of a secret. */
export function describeError(error: unknown): {
  name: string;
  code?: string;
  message: string;
  status?: number;
} {
  if (error instanceof Error) {
    const e = error as Error & { code?: unknown; status?: unknown };
    return {
      name: e.name,
      ...(typeof e.code === 'string' ? { code: e.code } : {}),
      message: e.message,
      ...(typeof e.status === 'number' ? { status: e.status } : {}),
    };
  }
  return { name: 'Error', message: String(error) };
}
