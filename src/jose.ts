/**
 * jose, loaded on first use. Only the JWT client authentication methods, DPoP and PEM/JWK key imports
 * need it, so a client_secret_* client never pays for loading it (cold start). Web Crypto underneath,
 * so this works on every runtime. The `import()` goes through ./jose-parts.ts, which names the parts
 * used: bundlers then keep only those (a namespace `import('jose')` would bundle all of jose).
 */
export type Jose = typeof import('./jose-parts.js');

let jose: Promise<Jose> | undefined;

export function loadJose(): Promise<Jose> {
  jose ??= import('./jose-parts.js');
  return jose;
}
