/**
 * What a call ended with, for assertions on the error itself (its class, code, message, cause).
 *
 *   const error = await rejectionOf(client.getToken());   // fails the test if the promise resolves
 *   const error = thrownBy(() => new ClientCredentialsClient(options));   // fails it if nothing is thrown
 */

/** The reason `promise` rejects with; a resolved promise fails the test. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  let value: unknown;
  try {
    value = await promise;
  } catch (error) {
    return error;
  }
  throw new Error(`expected a rejection, got ${describe(value)}`);
}

/** What `fn` throws; returning normally fails the test. */
export function thrownBy(fn: () => unknown): unknown {
  let value: unknown;
  try {
    value = fn();
  } catch (error) {
    return error;
  }
  throw new Error(`expected a throw, got ${describe(value)}`);
}

function describe(value: unknown): string {
  return value === null || typeof value !== 'object'
    ? String(value)
    : `a ${value.constructor?.name ?? 'value'}`;
}
