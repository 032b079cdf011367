/**
 * A real OAuth 2.0 authorization server for interop tests: oidc-provider 9 running in-process on a free
 * loopback port, with the client_credentials grant, resource indicators (RFC 8707), optional DPoP
 * (RFC 9449) and optional mutual TLS (RFC 8705).
 *
 *   const op = await startOidcProvider({ tls?, mtls?, dpop?, dpopNonce?, clients?, ... });
 *   afterAll(() => op.close());
 *
 * Options (StartOidcProviderOptions), all optional:
 *   tls                    serve https (server cert for 127.0.0.1 from certs.ts; trust `op.ca`)
 *   mtls                   implies tls. features.mTLS with certificateBoundAccessTokens, tlsClientAuth and
 *                          selfSignedTlsClientAuth; the main listener AND a second listener (the RFC 8705 5
 *                          `mtls_endpoint_aliases.token_endpoint`, `op.mtlsTokenEndpoint`) request a client
 *                          certificate (requestCert, rejectUnauthorized false); registers clients.tlsClientAuth
 *                          and clients.selfSignedTlsClientAuth
 *   dpop                   features.dPoP (off otherwise: a DPoP header is then ignored, token_type Bearer)
 *   dpopNonce              implies dpop; every DPoP proof must carry a server nonce (`use_dpop_nonce` + DPoP-Nonce)
 *   clients                extra ClientMetadata to register (grant_types etc. default as below)
 *   accessTokenTtlSeconds  ClientCredentials TTL (default 600) unless the resource sets accessTokenTTL
 *   clockToleranceSeconds  default 5
 *   resources              extra/overriding resource servers, identifier -> oidc-provider ResourceServer
 *   defaultResource        resource used when a request has none (default: none -> opaque token, no scope)
 *   issuerPath             e.g. '/tenant-a': issuer `http://127.0.0.1:PORT/tenant-a`, routes below it
 *   fetch                  how oidc-provider fetches (a client's jwks_uri): default its own, which refuses
 *                          loopback addresses (SSRF protection); a test serving a jwks_uri on loopback
 *                          passes one without that dispatcher
 *   oauthMetadata          also serve the metadata at the RFC 8414 3.1 location of a path issuer,
 *                          /.well-known/oauth-authorization-server{issuerPath}. oidc-provider itself serves the
 *                          same document at {issuer}/.well-known/openid-configuration and
 *                          {issuer}/.well-known/oauth-authorization-server (appended: RFC 8414-correct only
 *                          when the issuer has no path). Without it a path issuer's RFC 8414 URL is a 404.
 *
 * Result (OidcProviderHarness):
 *   issuer, tokenEndpoint, jwksUri, discoveryUrl, mtlsTokenEndpoint?, ca? (PEM trust anchor when tls)
 *   provider   the oidc-provider instance;  keys  the private keys (see ClientKey)
 *   clients    { basic, post, secretJwt, privateKeyJwtRs256, privateKeyJwtEs256, privateKeyJwtEdDsa,
 *                specialChars, tlsClientAuth?, selfSignedTlsClientAuth? } (see TestClient)
 *   resources  { jwt: 'https://api.example.test/', urn: 'urn:worldmappers', opaque: 'https://opaque.example.test/' }
 *   requests   every request the server saw: via ('main' | 'mtls'), method, path, headers, parsed form body,
 *              whether a client certificate was presented, status;  lastRequest(). In memory only (it holds
 *              the secrets and assertions that were sent): assert on it, never print it.
 *   close()    closes the listeners and their connections
 *
 * Default resource servers: `https://api.example.test/` (JWT, scope 'api:read api:write'),
 * `urn:worldmappers` (JWT, scope 'geocode:location read:locations'), `https://opaque.example.test/`
 * (opaque, scope 'api:read'). Any other resource is `invalid_target`.
 *
 * Client ids are fixed: 'basic-client', 'post-client', 'secret-jwt-client', 'pkjwt-rs256', 'pkjwt-es256',
 * 'pkjwt-eddsa', `svc${SPECIAL_CHARACTERS}id`, and with mtls 'tls-client', 'self-signed-tls-client'.
 * Secrets are random per provider (the special-chars one is `secret${SPECIAL_CHARACTERS}<random>`); keys are
 * generated once per process (jose generateKeyPair) and shared. Client auth signing algs enabled: HS*, RS*,
 * PS*, ES256/384/512, Ed25519/EdDSA; DPoP proof algs: ES256/384/512, PS256, RS256, Ed25519/EdDSA.
 * Registered auth methods: client_secret_basic|post|jwt, private_key_jwt (+ the two mTLS ones with mtls);
 * 'none' is not enabled.
 */
import { createPublicKey, KeyObject, randomBytes, X509Certificate } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { exportJWK, exportPKCS8, generateKeyPair, type JWK } from 'jose';
import type ProviderClass from 'oidc-provider';
import type { ClientMetadata, Configuration, KoaContextWithOIDC, ResourceServer } from 'oidc-provider';
import { getTestCertificates } from './certs.js';
import { closeServer, listenOnLoopback } from './ports.js';

export interface StartOidcProviderOptions {
  tls?: boolean;
  mtls?: boolean;
  dpop?: boolean;
  dpopNonce?: boolean;
  clients?: ClientMetadata[];
  accessTokenTtlSeconds?: number;
  clockToleranceSeconds?: number;
  resources?: Record<string, ResourceServer>;
  defaultResource?: string;
  issuerPath?: string;
  oauthMetadata?: boolean;
  fetch?: Configuration['fetch'];
}

export interface ClientKey {
  alg: 'RS256' | 'ES256' | 'EdDSA';
  kid: string;
  /** Web Crypto key (what jose generateKeyPair returns). */
  privateKey: CryptoKey;
  /** The same key as a node:crypto KeyObject. */
  privateKeyObject: KeyObject;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  /** The registered public JWK (has kid, no alg: an RSA key may sign RS256 or PS256). */
  publicJwk: JWK;
}

export type TestAuthMethod =
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'client_secret_jwt'
  | 'private_key_jwt'
  | 'tls_client_auth'
  | 'self_signed_tls_client_auth';

export interface TestClient {
  clientId: string;
  authMethod: TestAuthMethod;
  clientSecret?: string;
  key?: ClientKey;
  /** PEM client certificate and its PKCS#8 key, for the tls_client_auth methods. */
  certificate?: string;
  certificateKey?: string;
  subjectDn?: string;
}

export interface RecordedRequest {
  via: 'main' | 'mtls';
  method: string;
  /** Path and query as received (before the issuerPath / RFC 8414 rewrite). */
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed form body, when oidc-provider parsed one. */
  body: Record<string, unknown> | undefined;
  clientCertificate: boolean;
  status: number;
}

export interface OidcProviderHarness {
  issuer: string;
  tokenEndpoint: string;
  mtlsTokenEndpoint?: string;
  jwksUri: string;
  discoveryUrl: string;
  provider: ProviderClass;
  ca?: string;
  clients: {
    basic: TestClient;
    post: TestClient;
    secretJwt: TestClient;
    privateKeyJwtRs256: TestClient;
    privateKeyJwtEs256: TestClient;
    privateKeyJwtEdDsa: TestClient;
    specialChars: TestClient;
    tlsClientAuth?: TestClient;
    selfSignedTlsClientAuth?: TestClient;
  };
  keys: { rs256: ClientKey; es256: ClientKey; eddsa: ClientKey };
  resources: { jwt: string; urn: string; opaque: string };
  requests: RecordedRequest[];
  lastRequest(): RecordedRequest | undefined;
  close(): Promise<void>;
}

/** Every character RFC 6749 2.3.1 makes a client have to form-urlencode (plus a space). */
export const SPECIAL_CHARACTERS = " -._~:+/=%&!*'()";

const DEFAULT_RESOURCES: Record<string, ResourceServer> = {
  'https://api.example.test/': { scope: 'api:read api:write', accessTokenFormat: 'jwt' },
  'urn:worldmappers': { scope: 'geocode:location read:locations', accessTokenFormat: 'jwt' },
  'https://opaque.example.test/': { scope: 'api:read', accessTokenFormat: 'opaque' },
};

// ---------------------------------------------------------------------------------------------
// oidc-provider prints notices with console.info/warn (e.g. "Unsupported runtime" on Node 20 at import,
// the in-memory adapter). Drop only its own lines while it is imported and constructed.

async function quietly<T>(fn: () => Promise<T> | T): Promise<T> {
  const { info, warn } = console;
  const filter =
    (original: (...args: unknown[]) => void) =>
    (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].includes('oidc-provider ')) return;
      original.apply(console, args);
    };
  console.info = filter(info);
  console.warn = filter(warn);
  try {
    return await fn();
  } finally {
    console.info = info;
    console.warn = warn;
  }
}

let providerModule: Promise<typeof import('oidc-provider')> | undefined;
function loadProvider(): Promise<typeof import('oidc-provider')> {
  providerModule ??= quietly(() => import('oidc-provider'));
  return providerModule;
}

// ---------------------------------------------------------------------------------------------
// Keys: generated once per process.

interface ProcessKeys {
  signing: JWK[];
  clients: { rs256: ClientKey; es256: ClientKey; eddsa: ClientKey };
}

async function clientKey(alg: ClientKey['alg'], kid: string): Promise<ClientKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return {
    alg,
    kid,
    privateKey,
    privateKeyObject: KeyObject.from(privateKey),
    privateKeyPem: await exportPKCS8(privateKey),
    publicJwk: { ...(await exportJWK(publicKey)), kid, use: 'sig' },
  };
}

async function signingKey(alg: 'RS256' | 'ES256', kid: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
}

let processKeys: Promise<ProcessKeys> | undefined;
function getProcessKeys(): Promise<ProcessKeys> {
  processKeys ??= (async () => {
    const [rsSign, esSign, rs256, es256, eddsa] = await Promise.all([
      signingKey('RS256', 'op-rs256'),
      signingKey('ES256', 'op-es256'),
      clientKey('RS256', 'client-rs256'),
      clientKey('ES256', 'client-es256'),
      clientKey('EdDSA', 'client-eddsa'),
    ]);
    return { signing: [rsSign, esSign], clients: { rs256, es256, eddsa } };
  })();
  return processKeys;
}

// ---------------------------------------------------------------------------------------------
// A minimal in-memory adapter (so oidc-provider does not warn about its development one).

interface StoredPayload {
  consumed?: number;
  uid?: string;
  userCode?: string;
  grantId?: string;
  [key: string]: unknown;
}

function createMemoryAdapter() {
  const store = new Map<string, { payload: StoredPayload; expiresAt: number }>();
  const get = (key: string): StoredPayload | undefined => {
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry.payload;
  };
  return class MemoryAdapter {
    constructor(readonly model: string) {}
    private key(id: string) {
      return `${this.model}:${id}`;
    }
    async upsert(id: string, payload: StoredPayload, expiresIn?: number) {
      const expiresAt =
        typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Number.POSITIVE_INFINITY;
      store.set(this.key(id), { payload, expiresAt });
    }
    async find(id: string) {
      return get(this.key(id));
    }
    async findByUid(uid: string) {
      for (const [key, entry] of store) {
        if (key.startsWith(`${this.model}:`) && entry.payload.uid === uid) return get(key);
      }
      return undefined;
    }
    async findByUserCode(userCode: string) {
      for (const [key, entry] of store) {
        if (key.startsWith(`${this.model}:`) && entry.payload.userCode === userCode) return get(key);
      }
      return undefined;
    }
    async consume(id: string) {
      const payload = get(this.key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      store.delete(this.key(id));
    }
    async revokeByGrantId(grantId: string) {
      for (const [key, entry] of store) if (entry.payload.grantId === grantId) store.delete(key);
    }
  };
}

// ---------------------------------------------------------------------------------------------
// mTLS: RFC 8705 2.1 / 2.2 client certificate access.

function peerCertificate(ctx: KoaContextWithOIDC): X509Certificate | undefined {
  const socket = ctx.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  const raw = socket.getPeerCertificate(true)?.raw;
  if (!raw || raw.length === 0) return undefined;
  return new X509Certificate(raw);
}

/** RFC 4514 string form of a subject: Node lists the RDNs in certificate order, RFC 4514 reverses them. */
export function rfc4514SubjectDn(certificate: X509Certificate | string): string {
  const x509 = typeof certificate === 'string' ? new X509Certificate(certificate) : certificate;
  return x509.subject.split('\n').filter(Boolean).reverse().join(',');
}

// ---------------------------------------------------------------------------------------------

function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

const CLIENT_DEFAULTS: Partial<ClientMetadata> = {
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
};

export async function startOidcProvider(
  options: StartOidcProviderOptions = {},
): Promise<OidcProviderHarness> {
  const mtls = options.mtls === true;
  const tls = mtls || options.tls === true;
  const dpopNonce = options.dpopNonce === true;
  const dpop = dpopNonce || options.dpop === true;
  const ttlSeconds = options.accessTokenTtlSeconds ?? 600;
  const issuerPath = (options.issuerPath ?? '').replace(/\/+$/, '');
  if (issuerPath && !issuerPath.startsWith('/')) throw new Error('issuerPath must start with "/"');
  const resources = { ...DEFAULT_RESOURCES, ...options.resources };

  const [{ default: Provider, errors }, keys, certs] = await Promise.all([
    loadProvider(),
    getProcessKeys(),
    tls ? getTestCertificates() : undefined,
  ]);

  // Listen first (port 0) so that the issuer can name the port; the handler is set afterwards.
  const requests: RecordedRequest[] = [];
  const via = new WeakMap<IncomingMessage, 'main' | 'mtls'>();
  const rawPath = new WeakMap<IncomingMessage, string>();
  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const makeServer = (name: 'main' | 'mtls'): Server => {
    const listener = (req: IncomingMessage, res: ServerResponse) => {
      via.set(req, name);
      handle(req, res);
    };
    if (!certs) return createHttpServer(listener);
    return createHttpsServer(
      {
        cert: certs.server.cert,
        key: certs.server.key,
        ca: [certs.ca.cert],
        requestCert: mtls,
        rejectUnauthorized: false,
      },
      listener,
    );
  };
  const servers: Server[] = [makeServer('main')];
  if (mtls) servers.push(makeServer('mtls'));
  let ports: number[];
  try {
    ports = await Promise.all(servers.map((server) => listenOnLoopback(server)));
  } catch (error) {
    await Promise.all(servers.map((server) => closeServer(server)));
    throw error;
  }
  const scheme = tls ? 'https' : 'http';
  const origin = `${scheme}://127.0.0.1:${ports[0]}`;
  const issuer = `${origin}${issuerPath}`;
  const mtlsTokenEndpoint = mtls ? `${scheme}://127.0.0.1:${ports[1]}${issuerPath}/token` : undefined;

  // Clients.
  const specialId = `svc${SPECIAL_CHARACTERS}id`;
  const clients: OidcProviderHarness['clients'] = {
    basic: { clientId: 'basic-client', authMethod: 'client_secret_basic', clientSecret: randomSecret() },
    post: { clientId: 'post-client', authMethod: 'client_secret_post', clientSecret: randomSecret() },
    secretJwt: {
      clientId: 'secret-jwt-client',
      authMethod: 'client_secret_jwt',
      clientSecret: randomSecret(),
    },
    privateKeyJwtRs256: { clientId: 'pkjwt-rs256', authMethod: 'private_key_jwt', key: keys.clients.rs256 },
    privateKeyJwtEs256: { clientId: 'pkjwt-es256', authMethod: 'private_key_jwt', key: keys.clients.es256 },
    privateKeyJwtEdDsa: { clientId: 'pkjwt-eddsa', authMethod: 'private_key_jwt', key: keys.clients.eddsa },
    specialChars: {
      clientId: specialId,
      authMethod: 'client_secret_basic',
      clientSecret: `secret${SPECIAL_CHARACTERS}${randomSecret()}`,
    },
  };
  if (certs) {
    clients.tlsClientAuth = {
      clientId: 'tls-client',
      authMethod: 'tls_client_auth',
      certificate: certs.client.cert,
      certificateKey: certs.client.key,
      subjectDn: certs.client.subjectDn,
    };
    clients.selfSignedTlsClientAuth = {
      clientId: 'self-signed-tls-client',
      authMethod: 'self_signed_tls_client_auth',
      certificate: certs.selfSignedClient.cert,
      certificateKey: certs.selfSignedClient.key,
    };
  }

  const metadata: ClientMetadata[] = [];
  for (const client of Object.values(clients) as TestClient[]) {
    if (
      !mtls &&
      (client.authMethod === 'tls_client_auth' || client.authMethod === 'self_signed_tls_client_auth')
    ) {
      continue;
    }
    const entry: ClientMetadata = {
      ...CLIENT_DEFAULTS,
      client_id: client.clientId,
      token_endpoint_auth_method: client.authMethod,
    };
    if (client.clientSecret) entry.client_secret = client.clientSecret;
    if (client.key) entry.jwks = { keys: [client.key.publicJwk] };
    if (client.authMethod === 'tls_client_auth') {
      entry.tls_client_auth_subject_dn = client.subjectDn;
      entry.tls_client_certificate_bound_access_tokens = true;
    }
    if (client.authMethod === 'self_signed_tls_client_auth' && client.certificate) {
      // oidc-provider matches the presented certificate against x5t#S256 of the registered x5c[0].
      const x509 = new X509Certificate(client.certificate);
      const jwk = await exportJWK(createPublicKey(client.certificate));
      entry.jwks = { keys: [{ ...jwk, use: 'sig', x5c: [x509.raw.toString('base64')] }] };
      entry.tls_client_certificate_bound_access_tokens = true;
    }
    metadata.push(entry);
  }
  if (!mtls) {
    delete clients.tlsClientAuth;
    delete clients.selfSignedTlsClientAuth;
  }
  for (const extra of options.clients ?? []) metadata.push({ ...CLIENT_DEFAULTS, ...extra });

  const configuration: Configuration = {
    adapter: createMemoryAdapter(),
    clients: metadata,
    jwks: { keys: keys.signing },
    cookies: { keys: [randomSecret()] },
    clockTolerance: options.clockToleranceSeconds ?? 5,
    clientBasedCORS: () => false,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    // The mTLS methods must be listed explicitly; an unlisted method only fails when the client is first
    // used (400 invalid_client_metadata at the token endpoint).
    clientAuthMethods: [
      'client_secret_basic',
      'client_secret_post',
      'client_secret_jwt',
      'private_key_jwt',
      ...(mtls ? (['tls_client_auth', 'self_signed_tls_client_auth'] as const) : []),
    ],
    scopes: ['openid', 'offline_access'],
    ttl: {
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? ttlSeconds,
    },
    enabledJWA: {
      clientAuthSigningAlgValues: [
        'HS256',
        'HS384',
        'HS512',
        'RS256',
        'RS384',
        'RS512',
        'PS256',
        'PS384',
        'PS512',
        'ES256',
        'ES384',
        'ES512',
        'Ed25519',
        'EdDSA',
      ],
      dPoPSigningAlgValues: ['ES256', 'ES384', 'ES512', 'PS256', 'RS256', 'Ed25519', 'EdDSA'],
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf ?? options.defaultResource,
        useGrantedResource: async () => false,
        getResourceServerInfo: async (_ctx, resourceIndicator) => {
          const server = resources[resourceIndicator];
          if (!server) throw new errors.InvalidTarget();
          return server;
        },
      },
      dPoP: dpop
        ? {
            enabled: true,
            ...(dpopNonce ? { nonceSecret: randomBytes(32), requireNonce: () => true } : {}),
          }
        : { enabled: false },
      mTLS: mtls
        ? {
            enabled: true,
            certificateBoundAccessTokens: true,
            tlsClientAuth: true,
            selfSignedTlsClientAuth: true,
            getCertificate: (ctx) => peerCertificate(ctx)?.toString(),
            // The TLS layer verified the chain against the test CA (ca option); rejectUnauthorized is off
            // so that self-signed certificates reach self_signed_tls_client_auth.
            certificateAuthorized: (ctx) => (ctx.socket as TLSSocket).authorized === true,
            certificateSubjectMatches: (ctx, property, expected) => {
              const certificate = peerCertificate(ctx);
              if (!certificate || property !== 'tls_client_auth_subject_dn') return false;
              return rfc4514SubjectDn(certificate) === expected;
            },
          }
        : { enabled: false },
    },
    ...(mtlsTokenEndpoint
      ? { discovery: { mtls_endpoint_aliases: { token_endpoint: mtlsTokenEndpoint } } }
      : {}),
  };

  const provider = await quietly(() => new Provider(issuer, configuration));

  // Record what the server received (after oidc-provider parsed the body).
  provider.use(async (ctx, next) => {
    try {
      await next();
    } finally {
      const oidc = (ctx as unknown as Partial<KoaContextWithOIDC>).oidc;
      requests.push({
        via: via.get(ctx.req) ?? 'main',
        method: ctx.method,
        path: rawPath.get(ctx.req) ?? ctx.url,
        headers: { ...ctx.req.headers },
        body: oidc?.body ? { ...oidc.body } : undefined,
        clientCertificate: peerCertificate(ctx as unknown as KoaContextWithOIDC) !== undefined,
        status: ctx.status,
      });
    }
  });

  const callback = provider.callback();
  // RFC 8414 3.1: the metadata of issuer https://host/path is at https://host/.well-known/oauth-authorization-server/path
  const rfc8414Path = `/.well-known/oauth-authorization-server${issuerPath}`;
  handle = (req, res) => {
    const url = req.url ?? '/';
    rawPath.set(req, url);
    const pathname = url.split('?')[0];
    if (options.oauthMetadata && pathname === rfc8414Path) {
      req.url = `${issuerPath}/.well-known/openid-configuration`;
    }
    if (issuerPath) {
      const current = req.url ?? '/';
      if (
        current !== issuerPath &&
        !current.startsWith(`${issuerPath}/`) &&
        !current.startsWith(`${issuerPath}?`)
      ) {
        res.statusCode = 404;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ error: 'not_found' }));
        return;
      }
      // oidc-provider derives its mount path from originalUrl vs url, as under Express.
      (req as IncomingMessage & { originalUrl?: string }).originalUrl = current;
      const rest = current.slice(issuerPath.length);
      req.url = rest.startsWith('/') ? rest : `/${rest}`;
    }
    void callback(req, res);
  };

  return {
    issuer,
    tokenEndpoint: `${issuer}/token`,
    ...(mtlsTokenEndpoint ? { mtlsTokenEndpoint } : {}),
    jwksUri: `${issuer}/jwks`,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    provider,
    ...(certs ? { ca: certs.ca.cert } : {}),
    clients,
    keys: keys.clients,
    resources: {
      jwt: 'https://api.example.test/',
      urn: 'urn:worldmappers',
      opaque: 'https://opaque.example.test/',
    },
    requests,
    lastRequest: () => requests.at(-1),
    close: async () => {
      await Promise.all(servers.map((server) => closeServer(server)));
    },
  };
}
