/**
 * jose, loaded on first use. Only the JWT client authentication methods, DPoP and PEM/JWK key imports
 * need it, so a client_secret_* client never pays for loading it (cold start). Web Crypto underneath,
 * so this works on every runtime; bundlers follow the literal `import('jose')` and bundle it.
 */
export type Jose = typeof import('jose');

let jose: Promise<Jose> | undefined;

export function loadJose(): Promise<Jose> {
  jose ??= import('jose');
  return jose;
}
