/**
 * Command-line arguments: the option table (shared by the parser and --help), parsing with
 * node:util parseArgs, and the environment variable behind each client option.
 */
import { parseArgs } from 'node:util';

/** A usage error: exit status 2, a one-line message and a pointer to --help. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface OptionSpec {
  /** The long name, without `--`. */
  readonly name: string;
  readonly short?: string;
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  /** The environment variable the option falls back to (client options only). */
  readonly env?: string;
  /** Placeholder shown in help, e.g. URL. */
  readonly value?: string;
  readonly help: string;
}

/** Options shared by every command: where to get a token and how to authenticate. */
export const CLIENT_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'issuer',
    type: 'string',
    env: 'M2M_ISSUER',
    value: 'URL',
    help: 'discover the token endpoint from the issuer (RFC 8414, then OpenID Connect)',
  },
  {
    name: 'token-endpoint',
    type: 'string',
    env: 'M2M_TOKEN_ENDPOINT',
    value: 'URL',
    help: 'the token endpoint',
  },
  { name: 'client-id', type: 'string', env: 'M2M_CLIENT_ID', value: 'ID', help: 'the client id' },
  {
    name: 'auth-method',
    type: 'string',
    env: 'M2M_AUTH_METHOD',
    value: 'METHOD',
    help: 'client_secret_basic (default with a secret), client_secret_post, client_secret_json, client_secret_jwt, private_key_jwt (default with a key), tls_client_auth, self_signed_tls_client_auth',
  },
  {
    name: 'audience',
    type: 'string',
    env: 'M2M_AUDIENCE',
    value: 'AUDIENCE',
    help: 'the audience parameter (Auth0 style)',
  },
  {
    name: 'scope',
    type: 'string',
    multiple: true,
    env: 'M2M_SCOPE',
    value: 'SCOPE',
    help: 'a scope; repeatable, or several separated by spaces',
  },
  {
    name: 'resource',
    type: 'string',
    multiple: true,
    env: 'M2M_RESOURCE',
    value: 'URI',
    help: 'an RFC 8707 resource indicator; repeatable (spaces separate several in the variable)',
  },
  {
    name: 'private-key',
    type: 'string',
    env: 'M2M_PRIVATE_KEY',
    value: 'FILE',
    help: 'PEM or JWK private key for private_key_jwt (the variable may hold the key itself)',
  },
  { name: 'key-id', type: 'string', env: 'M2M_KEY_ID', value: 'KID', help: 'the kid of client assertions' },
  {
    name: 'signing-alg',
    type: 'string',
    env: 'M2M_SIGNING_ALG',
    value: 'ALG',
    help: 'assertion algorithm (default from the key type; HS256 for client_secret_jwt)',
  },
  {
    name: 'certificate',
    type: 'string',
    env: 'M2M_CERTIFICATE',
    value: 'FILE',
    help: 'PEM client certificate: tls_client_auth (with --private-key), x5t#S256 in assertions',
  },
  {
    name: 'param',
    type: 'string',
    multiple: true,
    env: 'M2M_PARAM',
    value: 'NAME=VALUE',
    help: 'an extra token request parameter; repeatable (the variable takes name=value&name=value)',
  },
  {
    name: 'allow-insecure-http',
    type: 'boolean',
    env: 'M2M_ALLOW_INSECURE_HTTP',
    help: 'allow http: to a host that is not loopback (when a service mesh adds TLS); the variable takes 1/true',
  },
  {
    name: 'timeout',
    type: 'string',
    env: 'M2M_TIMEOUT',
    value: 'SECONDS',
    help: 'timeout of each request attempt (default 10)',
  },
];

/** Where the client secret comes from (never its value on the command line, if it can be helped). */
export const SECRET_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'client-secret-file',
    type: 'string',
    env: 'M2M_CLIENT_SECRET_FILE',
    value: 'FILE',
    help: 'read the client secret from FILE (one trailing newline is ignored)',
  },
  { name: 'client-secret-stdin', type: 'boolean', help: 'read the client secret from standard input' },
  {
    name: 'client-secret',
    type: 'string',
    env: 'M2M_CLIENT_SECRET',
    value: 'SECRET',
    help: 'works, but other processes can see it: prefer the variable, a file or stdin',
  },
];

export const COMMON_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'verbose',
    short: 'v',
    type: 'boolean',
    help: 'show each request (secrets redacted), retries and timings on stderr',
  },
  { name: 'help', short: 'h', type: 'boolean', help: 'show this help' },
];

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface ParsedCommand {
  readonly values: Values;
  readonly positionals: string[];
}

/** Parses `args` against `specs`; parseArgs errors become one-line UsageErrors. */
export function parseCommand(
  args: readonly string[],
  specs: readonly OptionSpec[],
  positionals: number,
): ParsedCommand {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const spec of specs) {
    options[spec.name] = {
      type: spec.type,
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.multiple ? { multiple: true } : {}),
    };
  }
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (error) {
    throw new UsageError(parseArgsMessage(error));
  }
  if (parsed.positionals.length > positionals) {
    throw new UsageError(
      `unexpected argument at position ${positionals + 1} (not echoed: it may hold a credential); options start with --`,
    );
  }
  return parsed;
}

function parseArgsMessage(error: unknown): string {
  const e = error as { code?: string; message?: string };
  const quoted = /'([^']*)'/.exec(e.message ?? '')?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted ?? ''}`.trim();
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      // "Option '--a <value>' argument missing", "Option '--b' does not take an argument", ambiguous dashes.
      return (
        (e.message ?? 'invalid option value').split('. ')[0]?.replace(/^Option/, 'option') ??
        'invalid option value'
      );
    default:
      return e.message ?? 'invalid arguments';
  }
}

/** `--flag`, with its short form when it has one. */
export function flagName(spec: OptionSpec): string {
  return spec.short ? `-${spec.short}, --${spec.name}` : `--${spec.name}`;
}
