/**
 * Errors to exit codes and stderr lines: 1 for token and API errors, 2 for usage errors. Expected
 * errors are one or two plain lines; a stack trace only for unexpected ones, and only with --verbose.
 * Every message shown comes from an m2m-token error (which never holds a secret or token) or from
 * the runtime's network error.
 */
import { shownUrl } from '../http/token-errors.js';
import { ConfigurationError, HttpError, M2MTokenError, OAuthError } from '../index.js';
import { UsageError } from './args.js';
import { FLAG_OF } from './flags.js';
import { describeCause } from './verbose.js';

export interface Failure {
  /** 1: a token or API error; 2: a usage error (0 is success, as --help says). */
  readonly exitCode: 1 | 2;
  readonly lines: string[];
}

export interface FailureContext {
  readonly command: string;
  readonly verbose: boolean;
  /** The last URL requested, for network errors. */
  readonly lastUrl?: string;
  readonly timeoutMs?: number;
}

export function describeFailure(error: unknown, context: FailureContext): Failure {
  const help = `Try 'm2m-token ${context.command === 'main' ? '' : `${context.command} `}--help'.`;
  if (error instanceof UsageError) return { exitCode: 2, lines: [error.message, help] };
  if (error instanceof ConfigurationError) {
    const detail = asFlags(error.message.replace(/^options\.[^:]*:\s*/, ''));
    return { exitCode: 2, lines: [`${flagOf(error.option)}: ${detail}`, help] };
  }
  // Token requests and discovery: the library's message names the endpoint, the client id and the
  // server's answer; its hint (one source, src/http/token-errors.ts) goes on a line of its own.
  if (error instanceof OAuthError || error instanceof HttpError) {
    const lines = [asFlags(withoutHint(error.message, error.hint))];
    if (error instanceof OAuthError && error.errorUri) lines.push(`see ${error.errorUri}`);
    if (error instanceof HttpError && error.bodySnippet) lines.push(`body: ${error.bodySnippet}`);
    if (error.hint) lines.push(`hint: ${asFlags(error.hint)}`);
    return { exitCode: 1, lines };
  }
  if (error instanceof M2MTokenError) {
    // M2M_TIMEOUT names `timeoutMs N`: the CLI's --timeout is in seconds.
    const message = error.message.replace(
      /\btimeoutMs (\d+)/,
      (_m, ms: string) => `--timeout ${Number(ms) / 1000} s`,
    );
    return { exitCode: 1, lines: [asFlags(message)] };
  }

  const where = context.lastUrl ? shownUrl(context.lastUrl) : 'the server';
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

/**
 * Library messages name options (`options.timeoutMs`, `authMethod`, ...); a CLI user knows the flags.
 * An option without a flag is named as such.
 */
function asFlags(message: string): string {
  return message
    .replace(/\boptions\.([\w.]+\w)/g, (_match, name: string) => flagOf(name, `the ${name} option (no flag)`))
    .replace(/\b(allowInsecureHttp|authMethod|signingAlgorithm)\b/g, (name) => flagOf(name));
}

/**
 * The flag of an option path (`retry.retries` -> --retry, `dpop.privateKey` -> --dpop-key), else of its
 * root option followed by the rest of the path, else `fallback`.
 */
function flagOf(option: string, fallback = option): string {
  const exact = FLAG_OF.get(option);
  if (exact) return exact;
  const [root, ...rest] = option.split('.');
  const flag = FLAG_OF.get(root ?? '');
  return flag ? `${flag}${rest.length ? ` ${rest.join('.')}` : ''}` : fallback;
}

/** The message without the hint the library appended to it (the CLI shows the hint on its own line). */
function withoutHint(message: string, hint: string | undefined): string {
  const suffix = hint ? `. ${hint}` : '';
  return suffix && message.endsWith(suffix) ? message.slice(0, -suffix.length) : message;
}
