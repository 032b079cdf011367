/**
 * The zod schema of the constructor options: types and ranges, unknown keys with a did-you-mean, and
 * messages built from the schema alone (never from the input, which may be a secret).
 */
import * as z from 'zod/mini';
import { ConfigurationError } from '../errors.js';
import { ASYMMETRIC_ALGORITHMS, AUTH_METHODS, SYMMETRIC_ALGORITHMS } from '../types.js';
import { checkKnownKeys } from './keys.js';
import type { ClientCredentialsClientOptions, DpopOptions, RetryOptions } from './types.js';

const nonNegative = z.number().check(z.gte(0));
const nonEmpty = z.string().check(z.minLength(1, 'must be a non-empty string'));
const stringOrList = z.union([z.string(), z.array(z.string())]);
const isFunction = (v: unknown) => typeof v === 'function';
const isNonEmptyStringOrFunction = (v: unknown) =>
  (typeof v === 'string' && v.length > 0) || typeof v === 'function';
const isTokenCache = (v: unknown) =>
  typeof v === 'object' &&
  v !== null &&
  ['get', 'set', 'delete'].every((name) => typeof (v as Record<string, unknown>)[name] === 'function');

/**
 * The token selection's types, for the constructor's defaults and every per-call option alike (the
 * values are checked by ./values.ts checkSelection, in both places too).
 */
const selectionShape = {
  audience: z.optional(nonEmpty),
  scope: z.optional(stringOrList),
  resource: z.optional(stringOrList),
  extraParams: z.optional(z.record(z.string(), z.string())),
};
const selectionSchema = z.object(selectionShape);

const retrySchema = z.object({
  retries: z.optional(z.int().check(z.gte(0), z.lte(10))),
  factor: z.optional(z.number().check(z.gte(1))),
  minTimeout: z.optional(nonNegative),
  maxTimeout: z.optional(nonNegative),
  randomize: z.optional(z.boolean()),
  maxRetryAfterMs: z.optional(nonNegative),
  maxPauseMs: z.optional(nonNegative),
});

const schema = z.object({
  tokenEndpoint: z.optional(nonEmpty),
  issuer: z.optional(nonEmpty),
  clientId: nonEmpty,
  authMethod: z.optional(z.enum(AUTH_METHODS)),
  clientSecret: z.optional(
    z.custom(isNonEmptyStringOrFunction, 'must be a non-empty string, or a function returning one'),
  ),
  privateKey: z.optional(z.unknown()),
  clientAssertion: z.optional(
    z.custom(isNonEmptyStringOrFunction, 'must be a non-empty string (a JWT), or a function returning one'),
  ),
  clientAssertionFile: z.optional(nonEmpty),
  keyId: z.optional(nonEmpty),
  signingAlgorithm: z.optional(z.enum([...ASYMMETRIC_ALGORITHMS, ...SYMMETRIC_ALGORITHMS])),
  certificate: z.optional(
    z.string().check(z.includes('-----BEGIN CERTIFICATE-----', 'must be a PEM certificate')),
  ),
  assertionAudience: z.optional(nonEmpty),
  assertionTypHeader: z.optional(z.boolean()),
  assertionLifetimeSeconds: z.optional(z.number().check(z.gte(1), z.lte(120))),
  clockSkewSeconds: z.optional(z.number().check(z.gte(0), z.lte(60))),
  basicAuthEncoding: z.optional(z.union([z.enum(['form-urlencoded', 'none']), z.custom(isFunction)])),
  ...selectionShape,
  expiryBufferSeconds: z.optional(nonNegative),
  defaultLifetimeSeconds: z.optional(z.number().check(z.gt(0))),
  refreshAheadSeconds: z.optional(nonNegative),
  cache: z.optional(
    z.custom((v) => v === false || isTokenCache(v), 'must be a TokenCache (get, set, delete) or false'),
  ),
  fetch: z.optional(z.custom(isFunction, 'must be a fetch-compatible function')),
  dispatcher: z.optional(
    z.custom(
      (v) =>
        typeof v === 'object' && v !== null && typeof (v as { dispatch?: unknown }).dispatch === 'function',
      'must be an undici Dispatcher (an object with a dispatch function), e.g. new Agent()',
    ),
  ),
  timeoutMs: z.optional(z.number().check(z.gt(0))),
  allowInsecureHttp: z.optional(z.boolean()),
  retry: z.optional(z.union([z.literal(false), retrySchema])),
  headers: z.optional(z.record(z.string(), z.string())),
  dpop: z.optional(
    z.custom(
      (v) => typeof v === 'boolean' || (typeof v === 'object' && v !== null && !Array.isArray(v)),
      'must be true, false or { privateKey?, publicKey?, algorithm? }',
    ),
  ),
  onEvent: z.optional(z.custom(isFunction, 'must be a function')),
});

/** The option names, from the schema: one list for validation and the did-you-mean. */
const OPTION_KEYS: ReadonlySet<string> = new Set(Object.keys(schema.shape));
const RETRY_KEYS: ReadonlySet<string> = new Set(Object.keys(retrySchema.shape));
const DPOP_KEYS: ReadonlySet<string> = new Set(['privateKey', 'publicKey', 'algorithm']);

// The schema and the public option type name the same keys (a compile error when one gains a key alone).
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never]
  ? true
  : { readonly missing: Exclude<keyof A, keyof B> | Exclude<keyof B, keyof A> };
const optionKeysMatch: SameKeys<ClientCredentialsClientOptions, typeof schema.shape> = true;
const retryKeysMatch: SameKeys<RetryOptions, typeof retrySchema.shape> = true;
const dpopKeysMatch: SameKeys<DpopOptions, Record<'privateKey' | 'publicKey' | 'algorithm', unknown>> = true;
void [optionKeysMatch, retryKeysMatch, dpopKeysMatch];

/**
 * Unknown keys first: a misspelt option is the cause of what else looks wrong (`clientID` makes
 * `clientId` missing), so it is what the error names.
 */
function checkOptionKeys(input: object): void {
  checkKnownKeys(input, OPTION_KEYS, 'ClientCredentialsClient');
  const { retry, dpop } = input as { retry?: unknown; dpop?: unknown };
  if (isPlainObject(retry)) checkKnownKeys(retry, RETRY_KEYS, 'retry', 'retry.', true);
  // A misspelt member (privatekey) must not silently fall back to a generated key.
  if (isPlainObject(dpop)) checkKnownKeys(dpop, DPOP_KEYS, 'dpop', 'dpop.', true);
}

function isPlainObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks the options' keys and types against the schema. Throws a ConfigurationError naming the first
 * bad option (an unknown key before anything else).
 */
export function parseOptions(input: object): void {
  checkOptionKeys(input);
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw issueError(parsed.error.issues[0]);
}

/**
 * Checks the types of a per-call token selection (audience, scope, resource, extraParams; other keys
 * are ignored) against the constructor's schema: the same rules, the same messages.
 */
export function parseSelection(input: object): void {
  const parsed = selectionSchema.safeParse(input);
  if (!parsed.success) throw issueError(parsed.error.issues[0]);
}

function issueError(issue: unknown): ConfigurationError {
  const { path, message } = describeIssue(issue as SchemaIssue | undefined, []);
  return new ConfigurationError(path.length ? path.map(String).join('.') : '(options)', message);
}

/** The parts of a zod issue used for messages (zod/mini ships no English messages: they are built here). */
interface SchemaIssue {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly expected?: string;
  readonly minimum?: number | bigint;
  readonly maximum?: number | bigint;
  readonly inclusive?: boolean;
  readonly values?: readonly unknown[];
  readonly errors?: readonly (readonly SchemaIssue[])[];
}

const EXPECTED: Readonly<Record<string, string>> = {
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'a boolean',
  object: 'an object',
  array: 'an array',
  record: 'an object',
};

/**
 * A message saying what is expected, from the schema alone: never from the input, which may be a secret.
 * For a union (e.g. `retry: false | {...}`), the branch that got furthest names the option.
 */
function describeIssue(
  issue: SchemaIssue | undefined,
  prefix: readonly PropertyKey[],
): { path: readonly PropertyKey[]; message: string } {
  if (!issue) return { path: prefix, message: 'is invalid' };
  const path = [...prefix, ...issue.path];
  if (issue.message && issue.message !== 'Invalid input') return { path, message: issue.message };
  switch (issue.code) {
    case 'invalid_union': {
      const firsts = (issue.errors ?? [])
        .map((branch) => branch[0])
        .filter((i): i is SchemaIssue => i !== undefined);
      const deepest = firsts.reduce<SchemaIssue | undefined>(
        (best, i) => (best === undefined || i.path.length > best.path.length ? i : best),
        undefined,
      );
      if (deepest && deepest.path.length > 0) return describeIssue(deepest, path);
      const expected = [...new Set(firsts.map((i) => describeIssue(i, []).message.replace(/^must be /, '')))];
      return { path, message: expected.length ? `must be ${expected.join(' or ')}` : 'is invalid' };
    }
    case 'invalid_type':
      return { path, message: `must be ${EXPECTED[issue.expected ?? ''] ?? issue.expected ?? 'valid'}` };
    case 'invalid_value':
      return { path, message: `must be ${(issue.values ?? []).map((v) => JSON.stringify(v)).join(' or ')}` };
    case 'too_small':
      return {
        path,
        message: `must be ${issue.inclusive === false ? 'greater than' : 'at least'} ${issue.minimum}`,
      };
    case 'too_big':
      return {
        path,
        message: `must be ${issue.inclusive === false ? 'less than' : 'at most'} ${issue.maximum}`,
      };
    default:
      return { path, message: 'is invalid' };
  }
}
