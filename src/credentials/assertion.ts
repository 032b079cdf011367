/**
 * A client assertion made elsewhere (workload identity federation, RFC 7521 4.2 / RFC 7523 2.2): a
 * Kubernetes projected service-account token, a CI provider's OIDC token, a SPIFFE JWT-SVID. Given as
 * `clientAssertion` (a string, or a function called for every token request) or `clientAssertionFile`
 * (read for every token request).
 *
 * Every attempt of a token request (its retries and the `use_dpop_nonce` repeat included) asks for the
 * assertion afresh: RFC 7523 3 lets a server refuse a `jti` it has seen, and an attempt that failed on
 * the way back may still have used it up, so a function that mints assertions must be called again.
 * The file is read again each time too: kubelet rotates a projected token by swapping a symlink
 * (`token -> ..data/token`, `..data -> ..2024_01_01_00_00_00.123`) atomically, so a read always sees a
 * whole token, the old or the new one, and the next token request after a rotation sends the new one.
 * Reading a file of a few hundred bytes per token request costs less than a stat-and-compare that could
 * miss a rewrite within one timestamp tick.
 *
 * The file is opened without blocking (O_NONBLOCK) and must be a regular file once symlinks are
 * followed: opening a FIFO with no writer would otherwise hold a libuv threadpool thread for ever (four
 * of them stall every fs call and dns.lookup of the process). Each assertion, from a function or the
 * file, must come within the attempt's `timeoutMs` (credentials/deadline.ts).
 */
import { builtinModule } from '../capabilities.js';
import { ConfigurationError } from '../errors.js';
import { withinTimeout } from './deadline.js';

/** A file larger than this is not an assertion (a wrong path: /dev/zero, a log file). */
export const MAX_ASSERTION_FILE_BYTES = 64 * 1024;

export type AssertionOption = 'clientAssertion' | 'clientAssertionFile';

/** Where the assertion of each token request comes from. */
export interface AssertionSource {
  readonly option: AssertionOption;
  /** The assertion for one attempt of a token request. */
  next(): Promise<string>;
}

type FileHandle = {
  read(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number | null,
  ): Promise<{ bytesRead: number }>;
  stat(): Promise<{ isFile(): boolean }>;
  close(): Promise<void>;
};
type NodeFs = {
  promises: { open(path: string, flags: number): Promise<FileHandle> };
  constants?: { O_RDONLY?: number; O_NONBLOCK?: number; O_NOCTTY?: number };
};

/**
 * The assertion source of the options, or undefined when neither option is set. Each assertion must
 * come within `timeoutMs` (the attempt's), else M2MTokenError `M2M_TIMEOUT` naming the option.
 */
export function assertionSource(
  options: {
    clientAssertion?: string | (() => string | Promise<string>);
    clientAssertionFile?: string;
  },
  timeoutMs: number,
): AssertionSource | undefined {
  const { clientAssertion, clientAssertionFile } = options;
  if (typeof clientAssertion === 'string') {
    const value = checkAssertion('clientAssertion', clientAssertion);
    return { option: 'clientAssertion', next: () => Promise.resolve(value) };
  }
  if (typeof clientAssertion === 'function') {
    return {
      option: 'clientAssertion',
      next: async () =>
        checkAssertion(
          'clientAssertion',
          await withinTimeout(
            'clientAssertion',
            timeoutMs,
            Promise.resolve().then(() => clientAssertion()),
          ),
          ' (returned by the function)',
        ),
    };
  }
  if (clientAssertionFile !== undefined) {
    const fs = builtinModule<NodeFs>('node:fs');
    if (fs?.promises === undefined) {
      throw new ConfigurationError(
        'clientAssertionFile',
        'needs a file system (node:fs), which this runtime does not provide: pass clientAssertion: () => ... instead',
      );
    }
    return {
      option: 'clientAssertionFile',
      next: async () =>
        checkAssertion(
          'clientAssertionFile',
          await withinTimeout('clientAssertionFile', timeoutMs, readAssertionFile(fs, clientAssertionFile)),
          ` (the content of ${JSON.stringify(clientAssertionFile)})`,
        ),
    };
  }
  return undefined;
}

/**
 * A client assertion is a JWT (RFC 7523 2.2): printable ASCII without spaces. Surrounding whitespace (the
 * newline a file or a shell adds) is removed. Messages give a position, never the value.
 */
function checkAssertion(option: AssertionOption, value: unknown, where = ''): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConfigurationError(option, `must be a non-empty string: a client assertion (a JWT)${where}`);
  }
  const assertion = value.trim();
  for (let i = 0; i < assertion.length; i++) {
    const c = assertion.charCodeAt(i);
    if (c <= 0x20 || c > 0x7e) {
      throw new ConfigurationError(
        option,
        `contains a character that no JWT has at position ${i}${where}: a client assertion is printable ASCII without spaces`,
      );
    }
  }
  return assertion;
}

/**
 * Reads the file, at most {@link MAX_ASSERTION_FILE_BYTES} (a wrong path must not fill the memory).
 * Opened with O_NONBLOCK, so that a FIFO or a device cannot hold the open; refused unless the opened
 * file (symlinks followed) is a regular file.
 */
async function readAssertionFile(fs: NodeFs, path: string): Promise<string> {
  const c = fs.constants ?? {};
  // O_NONBLOCK and O_NOCTTY are POSIX (undefined on Windows, where a named pipe is no path to open here).
  const flags = (c.O_RDONLY ?? 0) | (c.O_NONBLOCK ?? 0) | (c.O_NOCTTY ?? 0);
  let handle: FileHandle;
  try {
    handle = await fs.promises.open(path, flags);
  } catch (error) {
    throw unreadable(path, error);
  }
  try {
    if (!(await handle.stat()).isFile()) {
      throw new ConfigurationError(
        'clientAssertionFile',
        `${JSON.stringify(path)} is not a regular file (a directory, a FIFO, a socket or a device): give the file that holds the client assertion`,
      );
    }
    const buffer = new Uint8Array(MAX_ASSERTION_FILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_ASSERTION_FILE_BYTES) {
        throw new ConfigurationError(
          'clientAssertionFile',
          `${JSON.stringify(path)} is larger than ${MAX_ASSERTION_FILE_BYTES} bytes: it is not a client assertion`,
        );
      }
    }
    return new TextDecoder().decode(buffer.subarray(0, length));
  } catch (error) {
    if (error instanceof ConfigurationError) throw error;
    throw unreadable(path, error);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function unreadable(path: string, error: unknown): ConfigurationError {
  const code = (error as { code?: unknown } | null)?.code;
  return new ConfigurationError(
    'clientAssertionFile',
    `could not read ${JSON.stringify(path)}${typeof code === 'string' ? ` (${code})` : ''}: check the path (the projected service-account token volume, or AZURE_FEDERATED_TOKEN_FILE) and that this process may read it`,
    { cause: error },
  );
}
