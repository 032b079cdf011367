/**
 * From command-line values and environment variables to ClientCredentialsClient options.
 *
 * A flag beats its environment variable. Two groups go together: the endpoint (--issuer,
 * --token-endpoint) and the credentials (the secret sources, --private-key and
 * --client-assertion-file). When any member of a group is on the command line, the environment is
 * ignored for the whole group, so an exported M2M_TOKEN_ENDPOINT does not clash with --issuer, nor
 * M2M_CLIENT_SECRET with --private-key or --client-assertion-file.
 */
import type { ClientCredentialsClientOptions } from '../index.js';
import { UsageError, type Values } from './args.js';
import { CLIENT_OPTIONS, type OptionSpec, SECRET_OPTIONS } from './flags.js';
import { chompNewline, type Io, readNamedFile, readStdin } from './io.js';

export type ClientSettings = Omit<ClientCredentialsClientOptions, 'fetch' | 'onEvent' | 'cache'>;

export interface ClientConfig {
  readonly options: ClientSettings;
  /** Where the secret came from (for --verbose), never the secret. */
  readonly secretSource?: string;
  /** True when the secret was given with --client-secret on the command line. */
  readonly secretOnCommandLine: boolean;
  /** True when DPoP uses a key made for this run only (a printed token is then of no use elsewhere). */
  readonly ephemeralDpopKey: boolean;
}

const GROUPS: readonly (readonly string[])[] = [
  ['issuer', 'token-endpoint'],
  ['client-secret', 'client-secret-file', 'client-secret-stdin', 'private-key', 'client-assertion-file'],
];

const SPECS = new Map<string, OptionSpec>(
  ([...CLIENT_OPTIONS, ...SECRET_OPTIONS] as readonly OptionSpec[]).map((s) => [s.name, s]),
);

/** The one name of the private key variable; this other spelling is refused with a pointer to it. */
const PRIVATE_KEY_FILE_VARIABLE = 'M2M_PRIVATE_KEY_FILE';

function given(values: Values, name: string): boolean {
  const value = values[name];
  return Array.isArray(value) ? value.length > 0 : value !== undefined && value !== false;
}

interface Found {
  readonly value: string | string[];
  /** `--flag` or the variable's name. */
  readonly from: string;
}

/** True when a member of the option's group (itself included) is on the command line. */
function groupOnCommandLine(values: Values, name: string): boolean {
  const group = GROUPS.find((g) => g.includes(name)) ?? [name];
  return group.some((member) => given(values, member));
}

/** Reads the option from the command line, else (unless its group is on the command line) the environment. */
function lookup(values: Values, env: Io['env'], name: string): Found | undefined {
  const spec = SPECS.get(name);
  if (given(values, name)) {
    const value = values[name];
    return { value: typeof value === 'boolean' ? 'true' : (value as string | string[]), from: `--${name}` };
  }
  if (groupOnCommandLine(values, name)) return undefined;
  const fromEnv = spec?.env ? env[spec.env] : undefined;
  return fromEnv !== undefined && fromEnv !== '' ? { value: fromEnv, from: spec?.env as string } : undefined;
}

function single(found: Found | undefined): string | undefined {
  if (found === undefined) return undefined;
  return Array.isArray(found.value) ? found.value.at(-1) : found.value;
}

/** Builds the client options; throws UsageError for what is missing or unreadable. */
export async function resolveClientConfig(values: Values, io: Io): Promise<ClientConfig> {
  const get = (name: string) => lookup(values, io.env, name);
  const options: Record<string, unknown> = {};

  const issuer = single(get('issuer'));
  const tokenEndpoint = single(get('token-endpoint'));
  if (issuer !== undefined && tokenEndpoint !== undefined) {
    throw new UsageError('give --token-endpoint or --issuer, not both');
  }
  if (issuer === undefined && tokenEndpoint === undefined) {
    throw new UsageError('missing --token-endpoint URL or --issuer URL (or M2M_TOKEN_ENDPOINT / M2M_ISSUER)');
  }
  if (issuer !== undefined) options.issuer = issuer;
  if (tokenEndpoint !== undefined) options.tokenEndpoint = tokenEndpoint;

  const clientId = single(get('client-id'));
  if (clientId === undefined) throw new UsageError('missing --client-id ID (or M2M_CLIENT_ID)');
  options.clientId = clientId;

  const strings: Array<[string, string]> = [
    ['auth-method', 'authMethod'],
    ['audience', 'audience'],
    ['key-id', 'keyId'],
    ['signing-alg', 'signingAlgorithm'],
    ['assertion-audience', 'assertionAudience'],
    ['basic-auth-encoding', 'basicAuthEncoding'],
  ];
  for (const [flag, option] of strings) {
    const value = single(get(flag));
    if (value !== undefined) options[option] = value;
  }

  const scope = get('scope');
  if (scope) options.scope = scope.value;
  const resource = get('resource');
  if (resource) {
    options.resource = Array.isArray(resource.value)
      ? resource.value
      : resource.value.split(/\s+/).filter(Boolean);
  }
  const param = get('param');
  if (param) options.extraParams = parseParams(param.value);
  const headers = get('token-request-header');
  if (headers) options.headers = parseHeaders(headers);

  const seconds: Array<[string, string, (s: number) => unknown]> = [
    ['timeout', 'timeoutMs', (s) => Math.round(s * 1000)],
    ['assertion-lifetime', 'assertionLifetimeSeconds', (s) => s],
    ['clock-skew', 'clockSkewSeconds', (s) => s],
    ['expiry-buffer', 'expiryBufferSeconds', (s) => s],
  ];
  for (const [flag, option, convert] of seconds) {
    const found = get(flag);
    if (found) options[option] = convert(number(found, 'a number of seconds', (n) => n >= 0));
  }
  const retry = get('retry');
  if (retry) options.retry = { retries: number(retry, 'a whole number of retries', Number.isInteger) };

  if (flagOrVariable(values, io, 'allow-insecure-http')) options.allowInsecureHttp = true;
  if (flagOrVariable(values, io, 'no-assertion-typ')) options.assertionTypHeader = false;

  const key = get('private-key');
  if (key === undefined && io.env[PRIVATE_KEY_FILE_VARIABLE] && !groupOnCommandLine(values, 'private-key')) {
    throw new UsageError(
      `${PRIVATE_KEY_FILE_VARIABLE} is not read: set M2M_PRIVATE_KEY to the key's file name (or to the PEM or JWK itself)`,
    );
  }
  if (key) options.privateKey = await readKey(key.from, single(key) as string);
  // Read by the client for the token request (not here): the file is the credential's only copy.
  const assertionFile = single(get('client-assertion-file'));
  if (assertionFile !== undefined) options.clientAssertionFile = assertionFile;
  const certificate = get('certificate');
  if (certificate) options.certificate = await readMaterial(certificate.from, single(certificate) as string);

  const dpopKey = get('dpop-key');
  const dpop = dpopKey !== undefined || flagOrVariable(values, io, 'dpop');
  if (dpopKey) options.dpop = { privateKey: await readKey(dpopKey.from, single(dpopKey) as string) };
  else if (dpop) options.dpop = true;

  const secret = await readSecret(values, io);
  if (secret) options.clientSecret = secret.value;

  if (
    secret === undefined &&
    options.privateKey === undefined &&
    options.certificate === undefined &&
    options.clientAssertionFile === undefined
  ) {
    throw new UsageError(
      'no client credentials: set M2M_CLIENT_SECRET (or M2M_CLIENT_SECRET_FILE), M2M_PRIVATE_KEY or M2M_CLIENT_ASSERTION_FILE, or give --client-secret-file FILE, --client-secret-stdin, --private-key FILE or --client-assertion-file FILE',
    );
  }
  return {
    options: options as unknown as ClientSettings,
    ...(secret ? { secretSource: secret.from } : {}),
    secretOnCommandLine: secret?.from === '--client-secret',
    ephemeralDpopKey: dpop && dpopKey === undefined,
  };
}

/** A boolean flag, else its variable (1/true/yes/on or 0/false/no/off). */
function flagOrVariable(values: Values, io: Io, name: string): boolean {
  if (values[name] === true) return true;
  const variable = SPECS.get(name)?.env;
  const value = variable ? io.env[variable] : undefined;
  if (value === undefined || value === '') return false;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new UsageError(`${variable} takes 1/true or 0/false, not '${value}'`);
}

/** A number of the flag or variable; the value is shown in the error (these are never credentials). */
function number(found: Found, what: string, valid: (n: number) => boolean): number {
  const text = Array.isArray(found.value) ? (found.value.at(-1) ?? '') : found.value;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || !valid(n)) {
    throw new UsageError(`${found.from} takes ${what}, not '${text.slice(0, 40)}'`);
  }
  return n;
}

/** name=value pairs: repeated flags, or one `a=1&b=2` string from the environment. */
function parseParams(value: string | string[]): Record<string, string> {
  const pairs: Array<[string, string]> = [];
  if (Array.isArray(value)) {
    for (const item of value) {
      const at = item.indexOf('=');
      if (at <= 0)
        throw new UsageError(
          '--param takes NAME=VALUE (the argument is not echoed: it may hold a credential)',
        );
      pairs.push([item.slice(0, at), item.slice(at + 1)]);
    }
  } else {
    for (const [name, v] of new URLSearchParams(value)) pairs.push([name, v]);
  }
  return Object.fromEntries(pairs);
}

const TOKEN_CHARS = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A `Name: value` header (RFC 9110 5.1 field name); the argument is never echoed. */
export function parseHeader(text: string, flag: string): [string, string] {
  const at = text.indexOf(':');
  const name = at > 0 ? text.slice(0, at).trim() : '';
  if (!TOKEN_CHARS.test(name)) {
    throw new UsageError(
      `${flag} takes 'Name: value' (the argument is not echoed: it may hold a credential)`,
    );
  }
  return [name, text.slice(at + 1).trim()];
}

/** Headers for token requests: repeated flags, or one per line in the variable. */
function parseHeaders(found: Found): Record<string, string> {
  const lines = Array.isArray(found.value) ? found.value : found.value.split(/\r?\n/).filter((l) => l.trim());
  const flag = found.from.startsWith('--') ? found.from : `each line of ${found.from}`;
  return Object.fromEntries(lines.map((line) => parseHeader(line, flag)));
}

/**
 * A key or certificate: a flag names a file; an environment variable names a file or holds the PEM
 * (or JWK) itself, which is how containers usually receive them.
 */
async function readMaterial(from: string, value: string): Promise<string> {
  const start = value.trimStart();
  if (!from.startsWith('--') && (start.startsWith('-----BEGIN') || start.startsWith('{'))) return value;
  const what = from.startsWith('--') ? from : `the file named by ${from}`;
  return (await readNamedFile(what, value)).toString('utf8');
}

async function readKey(from: string, value: string): Promise<string | JsonWebKey> {
  const text = await readMaterial(from, value);
  if (!text.trimStart().startsWith('{')) return text;
  try {
    return JSON.parse(text) as JsonWebKey;
  } catch {
    // Never echo the key: only say where it came from.
    throw new UsageError(`the private key from ${from} looks like JSON but does not parse as a JWK`);
  }
}

/** The client secret, from exactly one source (the flags, else the environment: see lookup). */
async function readSecret(values: Values, io: Io): Promise<{ value: string; from: string } | undefined> {
  const value = lookup(values, io.env, 'client-secret');
  const file = lookup(values, io.env, 'client-secret-file');
  const stdin = given(values, 'client-secret-stdin') ? { from: '--client-secret-stdin' } : undefined;
  const sources = [value, file, stdin].filter((s) => s !== undefined);
  if (sources.length > 1) {
    throw new UsageError(`give one client secret source, not ${sources.map((s) => s.from).join(' and ')}`);
  }
  let secret: string;
  let from: string;
  if (value !== undefined) {
    secret = single(value) as string;
    from = value.from;
  } else if (file !== undefined) {
    secret = chompNewline((await readNamedFile(file.from, single(file) as string)).toString('utf8'));
    from = file.from;
  } else if (stdin !== undefined) {
    secret = chompNewline((await readStdin(io)).toString('utf8'));
    from = stdin.from;
  } else {
    return undefined;
  }
  if (secret === '') throw new UsageError(`the client secret from ${from} is empty`);
  return { value: secret, from };
}
