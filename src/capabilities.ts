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
function isNotImplemented(error: unknown): boolean {
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
 * A CommonJS package that only some runtimes have (undici), loaded with a `require` made by
 * `node:module`'s createRequire. Bundlers follow neither this nor the call (a literal `import('undici')`
 * pulls undici's Node-only internals into a worker bundle and fails there), and no dynamic `import()`
 * with a computed specifier is left either (Miniflare refuses those). Only reached after a capability
 * check; undefined where the runtime has no `node:module` or the package cannot be found.
 */
export function requireOptional<T>(specifier: string): T | undefined {
  const module = builtinModule<typeof import('node:module')>('node:module');
  if (typeof module?.createRequire !== 'function') return undefined;
  // Resolved from this file, so it finds m2m-token's own dependency: __filename in the CommonJS build,
  // import.meta.url in the ES module build.
  const base = typeof __filename === 'string' ? __filename : import.meta.url;
  try {
    return module.createRequire(base)(specifier) as T;
  } catch {
    return undefined;
  }
}
