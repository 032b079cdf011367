/** `token --decode`: what is inside a token, for a person to read. Nothing here verifies anything. */
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { Token } from '../index.js';

/** "59 min 58 s", "2 h 5 min", "12 s". */
export function formatDuration(ms: number): string {
  const total = Math.round(Math.abs(ms) / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return m > 0 ? `${h} h ${m} min` : `${h} h`;
  if (m > 0) return s > 0 ? `${m} min ${s} s` : `${m} min`;
  return `${s} s`;
}

function when(epochMs: number, now: number): string {
  const iso = new Date(epochMs).toISOString();
  const delta = epochMs - now;
  return delta >= 0
    ? `${iso} (in ${formatDuration(delta)})`
    : `${iso} (${formatDuration(delta)} ago: expired)`;
}

function decodeParts(accessToken: string): { header: object; claims: Record<string, unknown> } | undefined {
  if (accessToken.split('.').length !== 3) return undefined;
  try {
    return { header: decodeProtectedHeader(accessToken), claims: decodeJwt(accessToken) };
  } catch {
    return undefined;
  }
}

/** The text shown by --decode. */
export function describeToken(token: Token, now: number): string {
  const lines: string[] = [];
  const jwt = decodeParts(token.accessToken);
  if (jwt) {
    lines.push(
      'JWT access token, decoded only: NOT VERIFIED (the signature and claims were not checked)',
      '',
      'Header:',
      JSON.stringify(jwt.header, null, 2),
      '',
      'Claims:',
      JSON.stringify(jwt.claims, null, 2),
      '',
    );
  } else {
    lines.push(
      `Opaque access token (not a JWT, ${token.accessToken.length} characters): nothing to decode; only the server can introspect it`,
      '',
    );
  }
  lines.push(`Token type: ${token.tokenType}`);
  if (token.scope !== undefined) lines.push(`Scope:      ${token.scope}`);
  const exp = jwt && typeof jwt.claims.exp === 'number' ? jwt.claims.exp * 1000 : undefined;
  const expiresAt = exp ?? token.expiresAt;
  if (expiresAt !== undefined) {
    lines.push(`Expires:    ${when(expiresAt, now)}${exp !== undefined ? '' : ' [from expires_in]'}`);
  } else {
    lines.push('Expires:    unknown (no expires_in, no exp claim)');
  }
  if (jwt && typeof jwt.claims.iat === 'number')
    lines.push(`Issued:     ${new Date(jwt.claims.iat * 1000).toISOString()}`);
  return `${lines.join('\n')}\n`;
}
