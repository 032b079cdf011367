/**
 * What the runtime can do, asked of the runtime itself: never a runtime name, never `process.versions.node`
 * (Bun, Deno and workerd's nodejs_compat layer all set it). Node-only pieces are reached through
 * `process.getBuiltinModule` (Node.js >= 20.16, Bun, Deno, workerd with nodejs_compat) so that bundlers
 * see no import of them and the main entry bundles for a browser-like platform as it is.
 */

type NodeCrypto = typeof import('node:crypto');

/** A Node.js built-in module, synchronously, where the runtime provides one; else undefined. */
export function builtinModule<T>(id: `node:${string}`): T | undefined {
  try {
    const proc = globalThis.process as { getBuiltinModule?: (id: string) => unknown } | undefined;
    return (proc?.getBuiltinModule?.(id) as T | null | undefined) ?? undefined;
  } catch {
    return undefined;
  }
}

/** `node:crypto` where the runtime has it; its functions may still be stubs (see {@link isNotImplemented}). */
export function nodeCrypto(): NodeCrypto | undefined {
  return builtinModule<NodeCrypto>('node:crypto');
}

/**
 * A compatibility layer's stub for a Node.js function it does not implement (workerd's nodejs_compat
 * throws `ERR_METHOD_NOT_IMPLEMENTED` from e.g. `crypto.createPrivateKey` on older releases). Callers
 * then take their Web Crypto path.
 */
export function isNotImplemented(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_METHOD_NOT_IMPLEMENTED' || code === 'ERR_NOT_IMPLEMENTED';
}

/**
 * Runs `use` with `node:crypto`; undefined when the module is missing or the function used is a stub.
 * Any other error is thrown as it is.
 */
export function withNodeCrypto<T>(use: (crypto: NodeCrypto) => T): T | undefined {
  const crypto = nodeCrypto();
  if (!crypto) return undefined;
  try {
    return use(crypto);
  } catch (error) {
    if (isNotImplemented(error)) return undefined;
    throw error;
  }
}

/**
 * True when the runtime's own `fetch` is undici, which honours the `dispatcher` init option (an undici
 * Agent that presents a client certificate, a proxy, a pool). undici reports its version in
 * `process.versions.undici` exactly where it is the built-in fetch (Node.js); Bun's and Deno's fetch
 * ignore `dispatcher`, so a client certificate given that way would silently not be sent.
 */
export function builtinFetchTakesDispatcher(): boolean {
  const versions = (globalThis.process as { versions?: Record<string, unknown> } | undefined)?.versions;
  return typeof versions?.undici === 'string';
}

/**
 * `import()` of a package that only some runtimes have, written so that bundlers do not follow it (a
 * literal `import('undici')` pulls undici's Node-only internals into a worker bundle and fails there).
 * Only reached after a capability check.
 */
export function importOptional<T>(specifier: string): Promise<T> {
  return import(/* webpackIgnore: true */ /* @vite-ignore */ specifier) as Promise<T>;
}
