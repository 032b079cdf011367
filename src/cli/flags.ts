/**
 * Every flag of the command line, in one place: the parser, --help, the environment variables, the
 * did-you-mean and the error messages (option name -> flag) are all generated from these tables.
 *
 * Every client option either has a flag here (`sets`) or is listed in {@link WITHOUT_FLAG} with the
 * reason: the compiler checks that none is forgotten.
 */
import type { ClientCredentialsClientOptions } from '../index.js';

type ClientOption = keyof ClientCredentialsClientOptions;

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
  /** The client option it sets (`retry.retries` for a member), for messages that name options. */
  readonly sets?: ClientOption | `${ClientOption}.${string}`;
}

/** Options shared by every command: where to get a token, how to authenticate, what to ask for. */
export const CLIENT_OPTIONS = [
  {
    name: 'issuer',
    type: 'string',
    env: 'M2M_ISSUER',
    value: 'URL',
    help: 'discover the token endpoint from the issuer (RFC 8414, then OpenID Connect)',
    sets: 'issuer',
  },
  {
    name: 'token-endpoint',
    type: 'string',
    env: 'M2M_TOKEN_ENDPOINT',
    value: 'URL',
    help: 'the token endpoint',
    sets: 'tokenEndpoint',
  },
  {
    name: 'client-id',
    type: 'string',
    env: 'M2M_CLIENT_ID',
    value: 'ID',
    help: 'the client id',
    sets: 'clientId',
  },
  {
    name: 'auth-method',
    type: 'string',
    env: 'M2M_AUTH_METHOD',
    value: 'METHOD',
    help: 'client_secret_basic (default with a secret), client_secret_post, client_secret_json, client_secret_jwt, private_key_jwt (default with a key), tls_client_auth, self_signed_tls_client_auth',
    sets: 'authMethod',
  },
  {
    name: 'audience',
    type: 'string',
    env: 'M2M_AUDIENCE',
    value: 'AUDIENCE',
    help: 'the audience parameter (Auth0 style)',
    sets: 'audience',
  },
  {
    name: 'scope',
    type: 'string',
    multiple: true,
    env: 'M2M_SCOPE',
    value: 'SCOPE',
    help: 'a scope; repeatable, or several separated by spaces',
    sets: 'scope',
  },
  {
    name: 'resource',
    type: 'string',
    multiple: true,
    env: 'M2M_RESOURCE',
    value: 'URI',
    help: 'an RFC 8707 resource indicator; repeatable (spaces separate several in the variable)',
    sets: 'resource',
  },
  {
    name: 'param',
    type: 'string',
    multiple: true,
    env: 'M2M_PARAM',
    value: 'NAME=VALUE',
    help: 'an extra token request parameter; repeatable (the variable takes name=value&name=value)',
    sets: 'extraParams',
  },
  {
    name: 'private-key',
    type: 'string',
    env: 'M2M_PRIVATE_KEY',
    value: 'FILE',
    help: 'PEM or JWK private key for private_key_jwt (the variable names the file, or holds the key itself)',
    sets: 'privateKey',
  },
  {
    name: 'client-assertion-file',
    type: 'string',
    env: 'M2M_CLIENT_ASSERTION_FILE',
    value: 'FILE',
    help: 'a client assertion made elsewhere, read for the token request: a Kubernetes projected service-account token, AZURE_FEDERATED_TOKEN_FILE (workload identity: no secret or key)',
    sets: 'clientAssertionFile',
  },
  {
    name: 'key-id',
    type: 'string',
    env: 'M2M_KEY_ID',
    value: 'KID',
    help: 'the kid of client assertions (default: the kid of a JWK key)',
    sets: 'keyId',
  },
  {
    name: 'signing-alg',
    type: 'string',
    env: 'M2M_SIGNING_ALG',
    value: 'ALG',
    help: 'assertion algorithm (default from the key type; HS256 for client_secret_jwt)',
    sets: 'signingAlgorithm',
  },
  {
    name: 'assertion-audience',
    type: 'string',
    env: 'M2M_ASSERTION_AUDIENCE',
    value: 'AUD',
    help: 'the aud of client assertions (default: the issuer when known, else the token endpoint)',
    sets: 'assertionAudience',
  },
  {
    name: 'no-assertion-typ',
    type: 'boolean',
    env: 'M2M_NO_ASSERTION_TYP',
    help: 'leave typ: client-authentication+jwt out of assertions, for servers that reject it',
    sets: 'assertionTypHeader',
  },
  {
    name: 'assertion-lifetime',
    type: 'string',
    env: 'M2M_ASSERTION_LIFETIME',
    value: 'SECONDS',
    help: 'lifetime of a client assertion (default 60, at most 120)',
    sets: 'assertionLifetimeSeconds',
  },
  {
    name: 'clock-skew',
    type: 'string',
    env: 'M2M_CLOCK_SKEW',
    value: 'SECONDS',
    help: "how far in the past assertions' iat is set (default 5, at most 60)",
    sets: 'clockSkewSeconds',
  },
  {
    name: 'certificate',
    type: 'string',
    env: 'M2M_CERTIFICATE',
    value: 'FILE',
    help: 'PEM client certificate: tls_client_auth (with --private-key), x5t#S256 in assertions',
    sets: 'certificate',
  },
  {
    name: 'basic-auth-encoding',
    type: 'string',
    env: 'M2M_BASIC_AUTH_ENCODING',
    value: 'form-urlencoded|none',
    help: 'how client_secret_basic encodes the id and secret (default: form-urlencoded, then raw if refused)',
    sets: 'basicAuthEncoding',
  },
  {
    name: 'dpop',
    type: 'boolean',
    env: 'M2M_DPOP',
    help: 'DPoP (RFC 9449) with a key made for this run: fetch sends the proofs; a printed token is bound to a key that is gone',
    sets: 'dpop',
  },
  {
    name: 'dpop-key',
    type: 'string',
    env: 'M2M_DPOP_KEY',
    value: 'FILE',
    help: 'DPoP with this PEM or JWK private key (implies --dpop)',
    sets: 'dpop.privateKey',
  },
  {
    name: 'token-request-header',
    type: 'string',
    multiple: true,
    env: 'M2M_TOKEN_REQUEST_HEADER',
    value: "'Name: value'",
    help: 'a header for token requests (e.g. User-Agent); repeatable (one per line in the variable)',
    sets: 'headers',
  },
  {
    name: 'allow-insecure-http',
    type: 'boolean',
    env: 'M2M_ALLOW_INSECURE_HTTP',
    help: 'allow http: to a host that is not loopback (when a service mesh adds TLS)',
    sets: 'allowInsecureHttp',
  },
  {
    name: 'timeout',
    type: 'string',
    env: 'M2M_TIMEOUT',
    value: 'SECONDS',
    help: 'timeout of each token request attempt (default 10)',
    sets: 'timeoutMs',
  },
  {
    name: 'retry',
    type: 'string',
    env: 'M2M_RETRY',
    value: 'N',
    help: 'retries of a failed token request (default 2; 0 for none)',
    sets: 'retry.retries',
  },
  {
    name: 'expiry-buffer',
    type: 'string',
    env: 'M2M_EXPIRY_BUFFER',
    value: 'SECONDS',
    help: 'a token expiring sooner than this is not handed out (default 60)',
    sets: 'expiryBufferSeconds',
  },
] as const satisfies readonly OptionSpec[];

/** Where the client secret comes from (never its value on the command line, if it can be helped). */
export const SECRET_OPTIONS = [
  {
    name: 'client-secret-file',
    type: 'string',
    env: 'M2M_CLIENT_SECRET_FILE',
    value: 'FILE',
    help: 'read the client secret from FILE (one trailing newline is ignored)',
    sets: 'clientSecret',
  },
  {
    name: 'client-secret-stdin',
    type: 'boolean',
    help: 'read the client secret from standard input',
    sets: 'clientSecret',
  },
  {
    name: 'client-secret',
    type: 'string',
    env: 'M2M_CLIENT_SECRET',
    value: 'SECRET',
    help: 'works, but other processes can see it: prefer the variable, a file or stdin',
    sets: 'clientSecret',
  },
] as const satisfies readonly OptionSpec[];

type Flagged = (typeof CLIENT_OPTIONS)[number]['sets'] | (typeof SECRET_OPTIONS)[number]['sets'];
type FlaggedRoot = Flagged extends infer S ? (S extends `${infer Root}.${string}` ? Root : S) : never;

/**
 * Client options without a flag, and why: shown by --help. A client option missing from both this
 * list and the tables above is a compile error.
 */
export const WITHOUT_FLAG: Readonly<Record<Exclude<ClientOption, FlaggedRoot>, string>> = {
  cache: 'each run is one process: nothing is cached between runs',
  defaultLifetimeSeconds: 'each run is one process: nothing is cached between runs',
  refreshAheadSeconds: 'each run is one process: nothing is cached between runs',
  fetch: "the CLI uses Node's fetch; for a private CA set NODE_EXTRA_CA_CERTS=ca.pem",
  dispatcher: "the CLI uses Node's fetch; for a private CA set NODE_EXTRA_CA_CERTS=ca.pem",
  onEvent: '--verbose shows every event and request',
  clientAssertion:
    'an assertion on the command line would be visible to other processes: use --client-assertion-file',
};

/** Only for retry: the members other than `retries` keep their defaults. */
export const RETRY_NOTE = 'retry factor, delays and Retry-After limits keep their defaults';

export const COMMON_OPTIONS = [
  {
    name: 'verbose',
    short: 'v',
    type: 'boolean',
    help: 'show each request (credentials redacted), retries and timings on stderr',
  },
  { name: 'help', short: 'h', type: 'boolean', help: 'show this help' },
] as const satisfies readonly OptionSpec[];

/** How `token` prints the token (at most one). */
export const TOKEN_OUTPUT_OPTIONS = [
  { name: 'json', type: 'boolean', help: 'print the whole token response as JSON' },
  {
    name: 'auth-header',
    type: 'boolean',
    help: "print the header line, 'Authorization: Bearer <token>' (DPoP: 'Authorization: DPoP <token>')",
  },
  {
    name: 'decode',
    type: 'boolean',
    help: "show a JWT's header, claims and time left (decoded only: NOT verified)",
  },
] as const satisfies readonly OptionSpec[];

/**
 * `token --header`, the old spelling of --auth-header: still printed the same way, with a note on
 * stderr. Not in --help: -H/--header sends a request header in `fetch`, and one word should not mean
 * two things.
 */
const DEPRECATED_TOKEN_OPTIONS = [
  { name: 'header', type: 'boolean', help: 'the old spelling of --auth-header' },
] as const satisfies readonly OptionSpec[];

export const FETCH_OPTIONS = [
  {
    name: 'request',
    short: 'X',
    type: 'string',
    value: 'METHOD',
    help: 'HTTP method (default GET, or POST with -d)',
  },
  {
    name: 'header',
    short: 'H',
    type: 'string',
    multiple: true,
    value: "'Name: value'",
    help: 'a header of the API request; repeatable',
  },
  {
    name: 'data',
    short: 'd',
    type: 'string',
    value: 'DATA',
    help: 'request body; @FILE reads a file, @- standard input (Content-Type defaults to form, as with curl)',
  },
  {
    name: 'include',
    short: 'i',
    type: 'boolean',
    help: 'print the status line and response headers before the body',
  },
] as const satisfies readonly OptionSpec[];

/** The flags of each command, as the parser sees them. */
export const COMMAND_SPECS: Readonly<Record<'token' | 'fetch', readonly OptionSpec[]>> = {
  token: [
    ...CLIENT_OPTIONS,
    ...SECRET_OPTIONS,
    ...TOKEN_OUTPUT_OPTIONS,
    ...DEPRECATED_TOKEN_OPTIONS,
    ...COMMON_OPTIONS,
  ],
  fetch: [...CLIENT_OPTIONS, ...SECRET_OPTIONS, ...FETCH_OPTIONS, ...COMMON_OPTIONS],
};

/** The command-line spelling of each client option (and option member), for library messages. */
export const FLAG_OF: ReadonlyMap<string, string> = (() => {
  const map = new Map<string, string>();
  for (const spec of [...CLIENT_OPTIONS, ...SECRET_OPTIONS] as readonly OptionSpec[]) {
    if (spec.sets === undefined || map.has(spec.sets)) continue;
    map.set(spec.sets, spec.sets === 'clientSecret' ? 'the client secret' : `--${spec.name}`);
    const root = spec.sets.split('.')[0] as string;
    if (!map.has(root)) map.set(root, `--${spec.name}`);
  }
  return map;
})();

/** `--flag`, with its short form when it has one. */
export function flagName(spec: OptionSpec): string {
  return spec.short ? `-${spec.short}, --${spec.name}` : `--${spec.name}`;
}
