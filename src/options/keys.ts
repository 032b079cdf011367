/**
 * Unknown option keys. A misspelt option (`audiance`, `clientID`, `retry: { retires: 3 }`) must not be
 * ignored silently: the client would run without it (a token without the audience, the default retry
 * policy). Every options object the package takes is checked here, with a did-you-mean.
 */
import { ConfigurationError } from '../errors.js';

/**
 * Names other libraries use for our options (and common guesses): suggested when the plain spelling
 * distance finds nothing close.
 */
const ALIASES: Readonly<Record<string, string>> = {
  tokenurl: 'tokenEndpoint',
  tokenuri: 'tokenEndpoint',
  url: 'tokenEndpoint',
  endpoint: 'tokenEndpoint',
  issuerurl: 'issuer',
  authority: 'issuer',
  discoveryurl: 'issuer',
  secret: 'clientSecret',
  key: 'privateKey',
  privatekeypem: 'privateKey',
  kid: 'keyId',
  alg: 'signingAlgorithm',
  algorithm: 'signingAlgorithm',
  cert: 'certificate',
  scopes: 'scope',
  audiences: 'audience',
  resources: 'resource',
  params: 'extraParams',
  extraparameters: 'extraParams',
  additionalparameters: 'extraParams',
  timeout: 'timeoutMs',
  retries: 'retry',
  maxretries: 'retries',
  origins: 'allowedOrigins',
  assertion: 'clientAssertion',
  clientassertionpath: 'clientAssertionFile',
  assertionfile: 'clientAssertionFile',
  assertionpath: 'clientAssertionFile',
  tokenfile: 'clientAssertionFile',
  federatedtokenfile: 'clientAssertionFile',
  azurefederatedtokenfile: 'clientAssertionFile',
  serviceaccounttokenfile: 'clientAssertionFile',
};

/** Lower case without `_` and `-`: `client_id`, `clientID` and `client-id` all read as `clientid`. */
function fold(name: string): string {
  return name.toLowerCase().replace(/[_-]/g, '');
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions), bounded by `max`. */
function distance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let previous2: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, (previous2[j - 2] as number) + 1);
      }
      current.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin > max) return max + 1;
    previous2 = previous;
    previous = current;
  }
  return previous[b.length] as number;
}

/**
 * The known name closest to `name`, when one is close enough to be what was meant: the same name in
 * another case or with `_`/`-` (`client_id`), a name a few edits away (`audiance`), or a known alias
 * (`tokenUrl`). `undefined` when nothing is close.
 */
export function didYouMean(name: string, known: Iterable<string>): string | undefined {
  const folded = fold(name);
  const names = [...known];
  const same = names.find((k) => fold(k) === folded);
  if (same !== undefined) return same;
  // About one edit in three letters, at least one and at most three.
  const max = Math.min(3, Math.max(1, Math.round(folded.length / 3)));
  let best: string | undefined;
  let bestDistance = max + 1;
  for (const candidate of names) {
    const d = distance(folded, fold(candidate), max);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best !== undefined) return best;
  const alias = ALIASES[folded];
  return alias !== undefined && names.includes(alias) ? alias : undefined;
}

/** An option key as shown in a message: printable, and short (a key is a name, but who knows). */
function shown(key: string): string {
  const printable = key.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 60 ? `${printable.slice(0, 57)}...` : printable;
}

/**
 * Throws a {@link ConfigurationError} for the first own key of `options` that is not in `known`;
 * `option` is the key (with `prefix`, e.g. `retry.`), the message suggests the closest known key, else
 * lists the known ones when `listKnown` is set (short lists only).
 *
 * @param where what takes these options, for the message (e.g. `getToken()`)
 */
export function checkKnownKeys(
  options: object,
  known: ReadonlySet<string>,
  where: string,
  prefix = '',
  listKnown = false,
): void {
  for (const key in options) {
    if (!Object.hasOwn(options, key) || known.has(key)) continue;
    const suggestion = didYouMean(key, known);
    const hint =
      suggestion !== undefined
        ? `did you mean ${prefix}${suggestion}?`
        : listKnown
          ? `${where} takes ${[...known].join(', ')}`
          : `see the options of ${where}`;
    throw new ConfigurationError(`${prefix}${shown(key)}`, `is not an option of ${where}; ${hint}`);
  }
}

/** What a per-call options object may hold: the keys, and the name used in messages. */
export interface CallOptionSet {
  readonly where: string;
  readonly keys: ReadonlySet<string>;
}

/** Builds a {@link CallOptionSet} (for integrations: the fetch wrapper, the undici interceptor, ...). */
export function callOptionSet(where: string, keys: readonly string[]): CallOptionSet {
  return { where, keys: new Set(keys) };
}

const SELECTION = ['audience', 'scope', 'resource', 'extraParams'] as const;

/** `getToken(options)`. */
export const GET_TOKEN_OPTIONS = callOptionSet('getToken()', [...SELECTION, 'forceRefresh', 'signal']);
/** `invalidate(options)`. */
export const INVALIDATE_OPTIONS = callOptionSet('invalidate()', SELECTION);
/** `createFetch(options)`. */
export const CREATE_FETCH_OPTIONS = callOptionSet('createFetch()', [...SELECTION, 'fetch', 'allowedOrigins']);
/** `bearerInterceptor(client, options)`. */
export const INTERCEPTOR_OPTIONS = callOptionSet('bearerInterceptor()', [...SELECTION, 'allowedOrigins']);
/** `attachBearer(instance, client, options)` (m2m-token/axios). */
export const ATTACH_BEARER_OPTIONS = callOptionSet('attachBearer()', [...SELECTION, 'allowedOrigins']);

/**
 * The checks every per-call options object gets before anything else: an object (or undefined), no
 * unknown key, and `forceRefresh`/`signal` of the right type. The values of the token parameters are
 * checked where they are resolved (the same checks as the constructor's).
 */
export function checkCallOptions(options: unknown, set: CallOptionSet): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigurationError('(options)', `the options of ${set.where} must be an object`);
  }
  checkKnownKeys(options, set.keys, set.where, '', true);
  const { forceRefresh, signal } = options as { forceRefresh?: unknown; signal?: unknown };
  if (forceRefresh !== undefined && typeof forceRefresh !== 'boolean') {
    throw new ConfigurationError('forceRefresh', 'must be a boolean');
  }
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw new ConfigurationError('signal', 'must be an AbortSignal');
  }
}

/** An AbortSignal, or a look-alike with `aborted` and `addEventListener` (as axios also takes). */
export function isAbortSignal(value: unknown): value is AbortSignal {
  const s = value as AbortSignal | null;
  return (
    typeof value === 'object' &&
    s !== null &&
    typeof s.aborted === 'boolean' &&
    typeof s.addEventListener === 'function'
  );
}
