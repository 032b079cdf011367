/**
 * The time a credential source may take: the attempt's `timeoutMs`. A function that never settles (a
 * vault that does not answer) or a file that cannot be read must not hang the token request, nor every
 * later request for the key that would join it.
 */
import { ErrorCode, M2MTokenError } from '../errors.js';

/** The longest delay setTimeout takes as it is (a longer one would fire at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The options a credential comes from, as named in messages. */
export type CredentialOption = 'clientSecret' | 'privateKey' | 'clientAssertion' | 'clientAssertionFile';

/**
 * `work`, or M2MTokenError `M2M_TIMEOUT` naming `option` (never a value) when it has not settled within
 * `timeoutMs`. The work itself goes on (a promise cannot be cancelled); its late result is dropped.
 * An infinite `timeoutMs` waits as long as the work takes.
 */
export function withinTimeout<T>(option: CredentialOption, timeoutMs: number, work: Promise<T>): Promise<T> {
  if (!Number.isFinite(timeoutMs)) return work;
  return new Promise<T>((resolve, reject) => {
    // Not unref'd: a process waiting for a token gets this error rather than exiting with it pending.
    const timer = setTimeout(
      () => {
        const what =
          option === 'clientAssertionFile'
            ? 'reading options.clientAssertionFile did not finish'
            : `the options.${option} function did not settle`;
        reject(
          new M2MTokenError(
            `${what} within timeoutMs ${timeoutMs}: check what it waits for (a vault, a secret store, a file system); the next token request asks again`,
            ErrorCode.TIMEOUT,
          ),
        );
      },
      Math.min(timeoutMs, MAX_TIMER_MS),
    );
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
