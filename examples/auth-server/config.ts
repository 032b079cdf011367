/**
 * Configuration of the development authorization server: resource servers (APIs), clients, and the
 * client grants that say which client may ask for which API and scopes (the Auth0 model).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { JWK } from 'jose';

export interface ScopeDefinition {
  value: string;
  description?: string;
}

/** An API that accepts tokens (Auth0: "API" / resource server). Its `identifier` is the token `aud`. */
export interface ResourceServerConfig {
  identifier: string;
  name?: string;
  /** The permissions this API defines; a scope is a string or `{ value, description }`. */
  scopes: Array<string | ScopeDefinition>;
  /** Lifetime of tokens for this API; overrides the top-level setting. */
  tokenLifetimeSeconds?: number;
}

/**
 * Workload identity federation: the client authenticates with a token another issuer signed for it (a
 * cluster's service-account token), sent as its client assertion (RFC 7523 2.2).
 */
export interface FederatedCredentialConfig {
  /** The `iss` of the tokens: one of the server's trusted issuers. */
  issuer: string;
  /** The `sub` that identifies this client at that issuer. Default: the client id (RFC 7523 3). */
  subject?: string;
}

/** An issuer whose tokens the server accepts as client assertions, and where its public keys are. */
export interface TrustedIssuerConfig {
  issuer: string;
  /** Its JWK Set (a cluster publishes it at /openid/v1/jwks). */
  jwksUri: string;
}

/**
 * A machine-to-machine application. It authenticates with a secret, a registered public key set, a
 * federated credential, or a secret and keys.
 */
export interface ClientConfig {
  clientId: string;
  name?: string;
  /** For client_secret_basic, client_secret_post and a JSON body. */
  clientSecret?: string;
  /** Public keys for private_key_jwt (RFC 7523). Only public members: no `d`. */
  jwks?: { keys: JWK[] };
  /** Tokens of a trusted issuer that stand for this client (workload identity federation). */
  federatedCredential?: FederatedCredentialConfig;
  /** Audience used when a token request names none. Without it, `audience` is required. */
  defaultAudience?: string;
}

/** Authorizes one client to get tokens for one API, with at most these scopes (Auth0: "client grant"). */
export interface ClientGrantConfig {
  clientId: string;
  audience: string;
  scope: string[];
}

export interface AuthServerConfig {
  /** Default lifetime of access tokens (default 86400, as Auth0). */
  tokenLifetimeSeconds?: number;
  resourceServers: ResourceServerConfig[];
  clients: ClientConfig[];
  clientGrants: ClientGrantConfig[];
  /** Issuers whose tokens are accepted as client assertions of federated clients (see also the server's `trustedIssuers` option). */
  trustedIssuers?: TrustedIssuerConfig[];
}

/** examples/auth-server/config.json */
export const DEFAULT_CONFIG_PATH = fileURLToPath(new URL('./config.json', import.meta.url));

/** Reads and checks a JSON config file. */
export async function loadConfig(path: string = DEFAULT_CONFIG_PATH): Promise<AuthServerConfig> {
  const text = await readFile(path, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new Error(`${path} is not valid JSON`, { cause });
  }
  return validateConfig(json);
}

/** The scope names of a resource server. */
export function scopeNames(server: ResourceServerConfig): string[] {
  return server.scopes.map((scope) => (typeof scope === 'string' ? scope : scope.value));
}

/**
 * Checks the shape of a config and that its parts refer to each other correctly. Throws an Error
 * naming the bad entry, e.g. `clientGrants[0].scope: "write:maps" is not a scope of "urn:worldmappers"`.
 */
export function validateConfig(value: unknown): AuthServerConfig {
  function fail(path: string, problem: string): never {
    throw new Error(`auth server config: ${path}: ${problem}`);
  }
  const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
  const isLifetime = (v: unknown) => v === undefined || (Number.isInteger(v) && (v as number) > 0);

  if (typeof value !== 'object' || value === null) return fail('(root)', 'must be an object');
  const config = value as AuthServerConfig;
  if (!isLifetime(config.tokenLifetimeSeconds)) fail('tokenLifetimeSeconds', 'must be a positive integer');
  for (const key of ['resourceServers', 'clients', 'clientGrants'] as const) {
    if (!Array.isArray(config[key])) fail(key, 'must be an array');
  }

  const scopesByAudience = new Map<string, Set<string>>();
  for (const [i, server] of config.resourceServers.entries()) {
    const path = `resourceServers[${i}]`;
    if (!isString(server?.identifier)) fail(`${path}.identifier`, 'must be a non-empty string');
    if (scopesByAudience.has(server.identifier)) fail(`${path}.identifier`, 'is used twice');
    if (!Array.isArray(server.scopes)) fail(`${path}.scopes`, 'must be an array');
    if (!isLifetime(server.tokenLifetimeSeconds))
      fail(`${path}.tokenLifetimeSeconds`, 'must be a positive integer');
    const names = server.scopes.map((scope) => (typeof scope === 'string' ? scope : scope?.value));
    // RFC 6749 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
    for (const [j, name] of names.entries()) {
      if (!isString(name) || !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(name)) {
        fail(`${path}.scopes[${j}]`, 'must be a scope token (printable ASCII, no space, quote or backslash)');
      }
    }
    scopesByAudience.set(server.identifier, new Set(names as string[]));
  }

  const clientIds = new Set<string>();
  for (const [i, client] of config.clients.entries()) {
    const path = `clients[${i}]`;
    if (!isString(client?.clientId)) fail(`${path}.clientId`, 'must be a non-empty string');
    if (clientIds.has(client.clientId)) fail(`${path}.clientId`, 'is used twice');
    clientIds.add(client.clientId);
    if (client.clientSecret !== undefined && !isString(client.clientSecret)) {
      fail(`${path}.clientSecret`, 'must be a non-empty string');
    }
    if (client.jwks !== undefined) {
      if (!Array.isArray(client.jwks?.keys) || client.jwks.keys.length === 0) {
        fail(`${path}.jwks.keys`, 'must be a non-empty array of public JWKs');
      }
      for (const [j, key] of client.jwks.keys.entries()) {
        if (typeof key?.kty !== 'string') fail(`${path}.jwks.keys[${j}]`, 'is not a JWK');
        if ('d' in key) fail(`${path}.jwks.keys[${j}]`, 'is a private key; register the public key only');
      }
    }
    if (client.federatedCredential !== undefined) {
      const fc = client.federatedCredential;
      if (!isString(fc?.issuer)) fail(`${path}.federatedCredential.issuer`, 'must be a non-empty string');
      if (fc.subject !== undefined && !isString(fc.subject)) {
        fail(`${path}.federatedCredential.subject`, 'must be a non-empty string');
      }
      if (client.clientSecret !== undefined || client.jwks !== undefined) {
        fail(path, 'a federated client has no secret and no keys of its own');
      }
    } else if (client.clientSecret === undefined && client.jwks === undefined) {
      fail(path, 'needs a clientSecret, a jwks, both, or a federatedCredential');
    }
    if (client.defaultAudience !== undefined && !scopesByAudience.has(client.defaultAudience)) {
      fail(`${path}.defaultAudience`, `"${client.defaultAudience}" is not a resource server identifier`);
    }
  }

  if (config.trustedIssuers !== undefined) {
    if (!Array.isArray(config.trustedIssuers)) fail('trustedIssuers', 'must be an array');
    for (const [i, trusted] of config.trustedIssuers.entries()) {
      if (!isString(trusted?.issuer)) fail(`trustedIssuers[${i}].issuer`, 'must be a non-empty string');
      if (!isString(trusted.jwksUri) || !/^https?:\/\//.test(trusted.jwksUri)) {
        fail(`trustedIssuers[${i}].jwksUri`, 'must be an http(s) URL');
      }
    }
  }

  const grants = new Set<string>();
  for (const [i, grant] of config.clientGrants.entries()) {
    const path = `clientGrants[${i}]`;
    if (!clientIds.has(grant?.clientId)) fail(`${path}.clientId`, `"${grant?.clientId}" is not a client`);
    const known = scopesByAudience.get(grant.audience);
    if (!known) fail(`${path}.audience`, `"${grant.audience}" is not a resource server identifier`);
    const key = `${grant.clientId} ${grant.audience}`;
    if (grants.has(key)) fail(path, 'grants the same client and audience twice');
    grants.add(key);
    if (!Array.isArray(grant.scope)) fail(`${path}.scope`, 'must be an array of scope names');
    for (const scope of grant.scope) {
      if (!known.has(scope)) fail(`${path}.scope`, `"${scope}" is not a scope of "${grant.audience}"`);
    }
  }

  return config;
}
