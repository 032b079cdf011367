/**
 * Client options: `normalizeOptions()` validates them synchronously (throwing a
 * {@link ConfigurationError} that names the bad option) and fills in the defaults. The option types
 * live in ./types.ts, the schema in ./schema.ts, credential rules in ./credentials.ts, value checks in
 * ./values.ts, unknown-key checks for every options object in ./keys.ts.
 */
import { ConfigurationError } from '../errors.js';
import { toArray } from '../util.js';
import {
  checkAssertionOptions,
  checkCredentials,
  checkDpopOptions,
  resolveAuthMethod,
} from './credentials.js';
import { parseOptions } from './schema.js';
import {
  type ClientCredentialsClientOptions,
  DEFAULTS,
  type NormalizedOptions,
  type NormalizedRetry,
} from './types.js';
import { checkEndpointUrl, checkHeaders, checkIssuerUrl, checkSelection, splitScope } from './values.js';

export { checkClientSecret } from './credentials.js';
export * from './types.js';
export { checkSelection, endpointProblem, splitScope } from './values.js';

/** Validates options and fills in defaults. Throws ConfigurationError naming the first bad option. */
export function normalizeOptions(input: ClientCredentialsClientOptions): NormalizedOptions {
  if (typeof input !== 'object' || input === null) {
    throw new ConfigurationError('(options)', 'an options object is required');
  }
  parseOptions(input);
  const o = input;

  if (o.tokenEndpoint && o.issuer) {
    throw new ConfigurationError('tokenEndpoint', 'give either tokenEndpoint or issuer, not both');
  }
  if (!o.tokenEndpoint && !o.issuer) {
    throw new ConfigurationError('tokenEndpoint', 'one of tokenEndpoint or issuer is required');
  }
  const allowInsecureHttp = o.allowInsecureHttp ?? false;
  if (o.tokenEndpoint) checkEndpointUrl('tokenEndpoint', o.tokenEndpoint, allowInsecureHttp);
  if (o.issuer) checkIssuerUrl(o.issuer, allowInsecureHttp);

  checkAssertionOptions(o);
  const authMethod = resolveAuthMethod(o);
  checkCredentials(o, authMethod);
  if (typeof o.dpop === 'object') checkDpopOptions(o.dpop);

  checkSelection(o.audience, o.scope, o.resource, o.extraParams);
  const extraParams = { ...(o.extraParams ?? {}) };

  if (o.headers) checkHeaders(o.headers);

  const retry: NormalizedRetry =
    o.retry === false ? false : { ...DEFAULTS.retry, ...stripUndefined(o.retry ?? {}) };
  if (retry && retry.maxTimeout < retry.minTimeout) {
    throw new ConfigurationError('retry.maxTimeout', 'must not be smaller than retry.minTimeout');
  }

  return Object.freeze({
    tokenEndpoint: o.tokenEndpoint,
    issuer: o.issuer,
    clientId: o.clientId,
    authMethod,
    audience: o.audience,
    scope: Object.freeze(splitScope(o.scope)),
    resource: Object.freeze(toArray(o.resource)),
    extraParams: Object.freeze(extraParams),
    expiryBufferMs: (o.expiryBufferSeconds ?? DEFAULTS.expiryBufferSeconds) * 1000,
    defaultLifetimeMs: (o.defaultLifetimeSeconds ?? DEFAULTS.defaultLifetimeSeconds) * 1000,
    refreshAheadMs: (o.refreshAheadSeconds ?? DEFAULTS.refreshAheadSeconds) * 1000,
    timeoutMs: o.timeoutMs ?? DEFAULTS.timeoutMs,
    allowInsecureHttp,
    retry,
    headers: Object.freeze({ ...(o.headers ?? {}) }),
    maxResponseBytes: DEFAULTS.maxResponseBytes,
    maxPauseMs: retry ? retry.maxPauseMs : DEFAULTS.retry.maxPauseMs,
  });
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
