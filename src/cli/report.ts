/**
 * Errors to exit codes and stderr lines: 1 for token and API errors, 2 for usage errors. Expected
 * errors are one or two plain lines; a stack trace only for unexpected ones, and only with --verbose.
 * Every message shown comes from an m2m-token error (which never holds a secret or token) or from
 * the runtime's network error.
 */
import { ConfigurationError, DiscoveryError, HttpError, M2MTokenError, OAuthError } from '../index.js';
import { UsageError } from './args.js';
import { describeCause } from './verbose.js';

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;

export interface Failure {
  readonly exitCode: 1 | 2;
  readonly lines: string[];
}

/** The command-line spelling of each client option, for ConfigurationError messages. */
const FLAG_OF: Readonly<Record<string, string>> = {
  tokenEndpoint: '--token-endpoint',
  issuer: '--issuer',
  clientId: '--client-id',
  authMethod: '--auth-method',
  clientSecret: 'the client secret',
  privateKey: '--private-key',
  keyId: '--key-id',
  signingAlgorithm: '--signing-alg',
  certificate: '--certificate',
  audience: '--audience',
  scope: '--scope',
  resource: '--resource',
  extraParams: '--param',
  timeoutMs: '--timeout',
  allowInsecureHttp: '--allow-insecure-http',
};

export interface FailureContext {
  readonly command: string;
  readonly verbose: boolean;
  /** The last URL requested, for network errors. */
  readonly lastUrl?: string;
  /** The authentication method of the last token request, for the invalid_client hint. */
  readonly authMethod?: string;
  readonly timeoutMs?: number;
}

export function describeFailure(error: unknown, context: FailureContext): Failure {
  const help = `Try 'm2m-token ${context.command === 'main' ? '' : `${context.command} `}--help'.`;
  if (error instanceof UsageError) return { exitCode: 2, lines: [error.message, help] };
  if (error instanceof ConfigurationError) {
    const [root, ...rest] = error.option.split('.');
    const flag = FLAG_OF[root ?? ''] ?? error.option;
    const detail = asFlags(error.message.replace(/^options\.[^:]*:\s*/, ''));
    return { exitCode: 2, lines: [`${flag}${rest.length ? ` ${rest.join('.')}` : ''}: ${detail}`, help] };
  }
  if (error instanceof OAuthError) {
    const lines = [
      `${error.error}${error.errorDescription ? `: ${error.errorDescription}` : ''} (HTTP ${error.status})`,
    ];
    if (error.errorUri) lines.push(`see ${error.errorUri}`);
    const hint = oauthHint(error.error, context.authMethod);
    if (hint) lines.push(`hint: ${hint}`);
    return { exitCode: 1, lines };
  }
  if (error instanceof HttpError) {
    const lines = [error.message];
    if (error.bodySnippet) lines.push(`body: ${error.bodySnippet}`);
    return { exitCode: 1, lines };
  }
  if (error instanceof DiscoveryError || error instanceof M2MTokenError) {
    return { exitCode: 1, lines: [asFlags(error.message)] };
  }

  const where = context.lastUrl ? safeUrl(context.lastUrl) : 'the server';
  const name = (error as { name?: string } | undefined)?.name;
  if (name === 'TimeoutError') {
    const seconds = context.timeoutMs ? ` within ${context.timeoutMs / 1000} s` : ' in time';
    return { exitCode: 1, lines: [`${where} did not answer${seconds} (--timeout SECONDS to wait longer)`] };
  }
  if (error instanceof TypeError && error.cause !== undefined) {
    return { exitCode: 1, lines: [`cannot reach ${where}: ${describeCause(error)}`] };
  }
  const lines = [`unexpected error: ${error instanceof Error ? error.message : String(error)}`];
  if (context.verbose && error instanceof Error && error.stack) lines.push(error.stack);
  else lines.push('(run with --verbose for details)');
  return { exitCode: 1, lines };
}

/** Library messages name options (allowInsecureHttp, authMethod, ...); a CLI user knows the flags. */
function asFlags(message: string): string {
  return message.replace(
    /\b(allowInsecureHttp|authMethod|signingAlgorithm)\b/g,
    (name) => FLAG_OF[name] ?? name,
  );
}

function oauthHint(code: string, method: string | undefined): string | undefined {
  switch (code) {
    case 'invalid_client':
      return `check the client id and secret or key${method ? `, and the authentication method (this request used ${method}; see --auth-method)` : ''}`;
    case 'invalid_scope':
      return 'check --scope: the client may not be allowed that scope';
    case 'invalid_target':
      return 'check --resource: the server does not know that resource';
    case 'unauthorized_client':
      return 'the client may not use the client_credentials grant, or not for this audience';
    default:
      return undefined;
  }
}

/** A URL without query string (it might carry something private). */
function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return 'the server';
  }
}
