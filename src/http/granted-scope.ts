/**
 * Granted vs requested scope. RFC 6749 3.3 lets a server grant less than was asked for, and 5.1 makes
 * it say so in the response's `scope`; when the response has no `scope`, the granted scope is the
 * requested one. "Narrower" means a requested scope token is missing from the granted set; a granted
 * token that was not asked for is not a reduction. Tokens are compared exactly (RFC 6749 3.3: they are
 * case-sensitive), split on spaces.
 */

function tokens(scope: string): Set<string> {
  return new Set(scope.split(' ').filter((token) => token !== ''));
}

/** True when `granted` lacks a token of `requested`; false when either is absent. */
export function isScopeReduced(requested: string | undefined, granted: string | undefined): boolean {
  if (requested === undefined || granted === undefined) return false;
  const have = tokens(granted);
  for (const token of tokens(requested)) if (!have.has(token)) return true;
  return false;
}
