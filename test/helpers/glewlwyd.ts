/**
 * A real Glewlwyd (the Debian package `glewlwyd`, a C OAuth 2.0 / OpenID Connect server) on a free
 * loopback port, for interop tests. Configured the way an administrator does it: a SQLite database
 * from the package's own init script, then the admin REST API (login `admin` / `password`).
 *
 *   import { haveGlewlwyd, glewlwydMissingMessage, startGlewlwyd } from './helpers/glewlwyd.js';
 *
 *   describe.skipIf(!haveGlewlwyd)(`glewlwyd (${glewlwydMissingMessage} to run)`, () => {
 *     let glw: GlewlwydHarness;
 *     beforeAll(async () => { glw = await startGlewlwyd(); });
 *     afterAll(() => glw?.close());
 *   });
 *
 * What it sets up (one `oidc` plugin instance named `oidc`):
 *   - https with the test CA's server certificate (test/helpers/certs.ts), requesting (not requiring) a
 *     client certificate, so tls_client_auth works; trust `glw.ca` (or use `glw.dispatcher`);
 *   - `allow-non-oidc: true` (client_credentials), `request-parameter-allow: true` (client assertions),
 *     `oauth-dpop-allowed` with `oauth-dpop-nonce-mandatory` (every DPoP proof needs a server nonce),
 *     `client-cert-source: TLS`; access tokens are RS256 JWTs (its JWKS at `glw.jwksUri`);
 *   - scopes `api.read`, `api.write`, `api.admin`; every client may have `api.read` only, so asking for
 *     `api.read api.admin` is answered with the narrower `api.read` (RFC 6749 3.3);
 *   - clients (ids fixed, secrets random): `basic` (client_secret_basic), `reserved` (client_secret_basic
 *     with `+ / = : %` in the secret, as base64 secrets have), `post` (client_secret_post), `secretJwt`
 *     (client_secret_jwt), `privateKeyJwtRs256|Es256|EdDsa` (private_key_jwt, public JWKs with a `kid`
 *     in the client's `jwks` property), `tls` (tls_client_auth by subject DN of certs.client).
 *
 * Glewlwyd facts the tests rely on (Glewlwyd 2.7.5):
 *   - discovery is at {issuer}/.well-known/openid-configuration, issuer `https://127.0.0.1:PORT/api/oidc`;
 *     the RFC 8414 location is a 404;
 *   - it compares Basic credentials raw (no form-decoding), and answers every client-authentication
 *     failure with an empty 403;
 *   - client assertions must have the token endpoint as `aud` (the issuer is refused: empty 403), and a
 *     `kid` naming the client's key;
 *   - it stores the tokens of non-Basic clients with a NULL client_id (introspection then lacks
 *     client_id), so tokens are verified against its JWKS here.
 *
 * The process is stopped by close(), by a process 'exit' hook, and by a watchdog `sh` that kills it when
 * this process dies. Its log (console mode) is kept, the last 4 KB, for error messages.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { exportJWK, exportPKCS8, exportSPKI, generateKeyPair, type JWK } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import { getTestCertificates, haveOpenssl } from './certs.js';
import { getFreePort } from './ports.js';
import { type RunningServer as Running, spawnServer, stopServer as stop } from './server-process.js';

const GLEWLWYD = 'glewlwyd';
const SQLITE3 = 'sqlite3';

/** The package's SQLite init scripts (the doc copy may be excluded by dpkg path filters in images). */
const INIT_SCRIPTS = [
  '/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz',
  '/usr/share/dbconfig-common/data/glewlwyd/install/sqlite3',
];

function run(command: string, args: string[]): { ok: boolean; stdout: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 5_000 });
  return { ok: result.status === 0, stdout: result.stdout ?? '' };
}

/** The Glewlwyd version (`2.7.5`), or undefined when the binary is missing. */
export const glewlwydVersion: string | undefined = (() => {
  const result = run(GLEWLWYD, ['--version']);
  return result.ok ? result.stdout.trim().split(/\s+/).at(-1) : undefined;
})();

const initScript = INIT_SCRIPTS.find((path) => existsSync(path));

/** True when glewlwyd, sqlite3, its init script and openssl (for the TLS certificates) are there. */
export const haveGlewlwyd: boolean =
  glewlwydVersion !== undefined && initScript !== undefined && haveOpenssl && run(SQLITE3, ['-version']).ok;

export const glewlwydMissingMessage = 'glewlwyd not installed: apt-get install -y glewlwyd sqlite3 openssl';

export interface GlewlwydKey {
  alg: 'RS256' | 'ES256' | 'EdDSA';
  kid: string;
  /** The private JWK, with its `kid` (what a user of private_key_jwt would load). */
  privateJwk: JWK;
  /** PKCS#8 PEM of the same key (no kid: a PEM cannot carry one). */
  privateKeyPem: string;
  publicJwk: JWK;
}

export interface GlewlwydClient {
  clientId: string;
  clientSecret?: string;
  key?: GlewlwydKey;
}

export interface GlewlwydHarness {
  version: string;
  issuer: string;
  tokenEndpoint: string;
  jwksUri: string;
  discoveryUrl: string;
  /** PEM of the CA that signed the server certificate. */
  ca: string;
  /** An undici Agent that trusts `ca` (for clients, discovery and JWKS fetches). */
  dispatcher: Agent;
  /** The client certificate (and key) registered for tls_client_auth. */
  clientCertificate: { cert: string; key: string; subjectDn: string };
  clients: {
    basic: GlewlwydClient;
    reserved: GlewlwydClient;
    post: GlewlwydClient;
    secretJwt: GlewlwydClient;
    privateKeyJwtRs256: GlewlwydClient;
    privateKeyJwtEs256: GlewlwydClient;
    privateKeyJwtEdDsa: GlewlwydClient;
    tls: GlewlwydClient;
  };
  /** A fetch that trusts the test CA. */
  fetch: typeof globalThis.fetch;
  /** The last lines Glewlwyd logged. */
  log(): string;
  close(): Promise<void>;
}

function initDatabase(path: string): void {
  const script = initScript as string;
  const sql = script.endsWith('.gz')
    ? gunzipSync(readFileSync(script)).toString('utf8')
    : readFileSync(script, 'utf8');
  const result = spawnSync(SQLITE3, [path], { input: sql, encoding: 'utf8', timeout: 10_000 });
  if (result.status !== 0)
    throw new Error(`sqlite3 could not create the Glewlwyd database: ${result.stderr}`);
}

function config(dir: string, port: number): string {
  return `port=${port}
bind_address="127.0.0.1"
external_url="https://127.0.0.1:${port}"
login_url="login.html"
api_prefix="api"
allow_origin="*"
log_mode="console"
log_level="${process.env.M2M_GLEWLWYD_LOG_LEVEL ?? 'INFO'}"
cookie_secure=0
session_expiration=3600
session_key="GLEWLWYD2_SESSION_ID"
admin_session_authentication="cookie"
profile_session_authentication="cookie"
admin_scope="g_admin"
profile_scope="g_profile"
user_module_path="/usr/lib/glewlwyd/user"
client_module_path="/usr/lib/glewlwyd/client"
user_auth_scheme_module_path="/usr/lib/glewlwyd/scheme"
plugin_module_path="/usr/lib/glewlwyd/plugin"
use_secure_connection=true
secure_connection_key_file="${join(dir, 'server.key')}"
secure_connection_pem_file="${join(dir, 'server.crt')}"
secure_connection_ca_file="${join(dir, 'ca.crt')}"
hash_algorithm="SHA512"
database = { type = "sqlite3" path = "${join(dir, 'glewlwyd.db')}" };
static_files_mime_types = ( { extension = ".json" mime_type = "application/json" } )
`;
}

function spawnGlewlwyd(configPath: string): Running {
  return spawnServer(GLEWLWYD, ['-c', configPath], { outputChars: 4_000 });
}

async function waitReady(
  running: Running,
  fetch: typeof globalThis.fetch,
  base: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void running.exited.then(() => {
    exited = true;
  });
  while (Date.now() < deadline) {
    if (exited) throw new Error(`glewlwyd exited during startup: ${running.output().trim().slice(-1_000)}`);
    try {
      const response = await fetch(`${base}/api/auth/scheme/`, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      return;
    } catch {
      await sleep(50);
    }
  }
  await stop(running);
  throw new Error(`glewlwyd did not answer within ${timeoutMs} ms: ${running.output().trim().slice(-1_000)}`);
}

/** An admin session on the REST API (cookie from POST /api/auth/). */
async function adminApi(fetch: typeof globalThis.fetch, base: string) {
  const login = await fetch(`${base}/api/auth/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: 'password' }),
  });
  await login.arrayBuffer();
  const cookie = login.headers.get('set-cookie')?.split(';')[0];
  if (login.status !== 200 || !cookie) throw new Error(`glewlwyd admin login failed: ${login.status}`);
  return async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${base}/api${path}`, {
      method,
      headers: { cookie, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (response.status !== 200)
      throw new Error(`glewlwyd admin ${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
}

async function makeKey(alg: GlewlwydKey['alg']): Promise<GlewlwydKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
  });
  const kid = `glw-${alg.toLowerCase()}-${randomBytes(4).toString('hex')}`;
  return {
    alg,
    kid,
    privateJwk: { ...(await exportJWK(privateKey)), kid },
    privateKeyPem: await exportPKCS8(privateKey),
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' },
  };
}

const secret = () => randomBytes(18).toString('base64url');

export interface StartGlewlwydOptions {
  startTimeoutMs?: number;
}

export async function startGlewlwyd(options: StartGlewlwydOptions = {}): Promise<GlewlwydHarness> {
  if (!haveGlewlwyd) throw new Error(glewlwydMissingMessage);
  const certs = await getTestCertificates();
  const dir = mkdtempSync(join(tmpdir(), 'm2m-glewlwyd-'));
  writeFileSync(join(dir, 'server.key'), certs.server.key);
  writeFileSync(join(dir, 'server.crt'), certs.server.cert);
  writeFileSync(join(dir, 'ca.crt'), certs.ca.cert);
  initDatabase(join(dir, 'glewlwyd.db'));

  const dispatcher = new Agent({ connect: { ca: certs.ca.cert } });
  const fetch = ((input: string | URL, init?: RequestInit) =>
    undiciFetch(input, { ...(init as object), dispatcher } as never)) as unknown as typeof globalThis.fetch;

  // Glewlwyd cannot listen on port 0: take a free port, and try another if it was taken meanwhile.
  let running: Running | undefined;
  let base = '';
  let lastError: unknown;
  for (let attempt = 0; attempt < 3 && running === undefined; attempt++) {
    const port = await getFreePort();
    const configPath = join(dir, 'glewlwyd.conf');
    writeFileSync(configPath, config(dir, port));
    const candidate = spawnGlewlwyd(configPath);
    base = `https://127.0.0.1:${port}`;
    try {
      await waitReady(candidate, fetch, base, options.startTimeoutMs ?? 10_000);
      running = candidate;
    } catch (error) {
      lastError = error;
    }
  }
  if (running === undefined) {
    rmSync(dir, { recursive: true, force: true });
    throw lastError;
  }
  const started = running;
  const close = async () => {
    await stop(started);
    await dispatcher.close();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const admin = await adminApi(fetch, base);
    const issuer = `${base}/api/oidc`;
    // The database client module stores only the properties its data-format lists; the package's
    // default lists the SAN properties of tls_client_auth but not the subject DN.
    const clientModule = (await admin('GET', '/mod/client/database')) as {
      parameters: { 'data-format': Record<string, unknown> };
    };
    clientModule.parameters['data-format'].tls_client_auth_subject_dn = {
      multiple: false,
      read: true,
      write: true,
    };
    await admin('PUT', '/mod/client/database', clientModule);
    await admin('PUT', '/mod/client/database/reset');
    const signing = await generateKeyPair('RS256', { extractable: true });
    await admin('POST', '/mod/plugin/', {
      module: 'oidc',
      name: 'oidc',
      display_name: 'oidc',
      enabled: true,
      parameters: {
        iss: issuer,
        'jwt-type': 'rsa',
        'jwt-key-size': '256',
        key: await exportPKCS8(signing.privateKey),
        cert: await exportSPKI(signing.publicKey),
        'access-token-duration': 3600,
        'refresh-token-duration': 1209600,
        'code-duration': 600,
        'refresh-token-rolling': false,
        'allow-non-oidc': true,
        'auth-type-client-enabled': true,
        'auth-type-code-enabled': false,
        'auth-type-token-enabled': false,
        'auth-type-id-token-enabled': true,
        'auth-type-none-enabled': false,
        'auth-type-password-enabled': false,
        'auth-type-device-enabled': false,
        'auth-type-refresh-enabled': false,
        scope: [],
        'additional-parameters': [],
        claims: [],
        'jwks-show': true,
        'jwks-x5c': [],
        'request-parameter-allow': true,
        'request-uri-allow-https-non-secure': false,
        'request-maximum-exp': 3600,
        'secret-type': 'pairwise',
        'allowed-scope': ['openid', 'api.read', 'api.write', 'api.admin'],
        'introspection-revocation-allowed': false,
        'client-pubkey-parameter': '',
        'client-jwks-parameter': 'jwks',
        'client-jwks_uri-parameter': 'jwks_uri',
        'client-cert-source': 'TLS',
        'client-cert-header-name': 'SSL_CLIENT_CERT',
        'client-cert-use-endpoint-aliases': false,
        'client-cert-self-signed-allowed': false,
        'oauth-dpop-allowed': true,
        'oauth-dpop-iat-duration': 60,
        'oauth-dpop-nonce-mandatory': true,
        'oauth-dpop-nonce-counter': 100,
      },
    });
    for (const name of ['api.read', 'api.write', 'api.admin']) {
      await admin('POST', '/scope/', {
        name,
        display_name: name,
        description: name,
        password_required: false,
        password_max_age: 0,
        scheme: {},
      });
    }
    const [rs256, es256, eddsa] = await Promise.all([makeKey('RS256'), makeKey('ES256'), makeKey('EdDSA')]);
    const clients: GlewlwydHarness['clients'] = {
      basic: { clientId: 'basic-client', clientSecret: secret() },
      // A base64 secret: `+ / =` (and `: %`) change under form-urlencoding (RFC 6749 2.3.1).
      reserved: { clientId: 'reserved-client', clientSecret: `${secret()}+/=:%x` },
      post: { clientId: 'post-client', clientSecret: secret() },
      secretJwt: { clientId: 'secret-jwt-client', clientSecret: `${secret()}${secret()}` },
      privateKeyJwtRs256: { clientId: 'pkjwt-rs256', key: rs256 },
      privateKeyJwtEs256: { clientId: 'pkjwt-es256', key: es256 },
      privateKeyJwtEdDsa: { clientId: 'pkjwt-eddsa', key: eddsa },
      tls: { clientId: 'tls-client' },
    };
    const methods: Record<keyof GlewlwydHarness['clients'], string> = {
      basic: 'client_secret_basic',
      reserved: 'client_secret_basic',
      post: 'client_secret_post',
      secretJwt: 'client_secret_jwt',
      privateKeyJwtRs256: 'private_key_jwt',
      privateKeyJwtEs256: 'private_key_jwt',
      privateKeyJwtEdDsa: 'private_key_jwt',
      tls: 'tls_client_auth',
    };
    for (const [name, c] of Object.entries(clients) as Array<[keyof typeof methods, GlewlwydClient]>) {
      await admin('POST', '/client/', {
        client_id: c.clientId,
        name: c.clientId,
        confidential: true,
        enabled: true,
        authorization_type: ['client_credentials'],
        scope: ['api.read'],
        redirect_uri: [],
        token_endpoint_auth_method: [methods[name]],
        ...(c.clientSecret ? { client_secret: c.clientSecret } : {}),
        ...(c.key ? { jwks: { keys: [c.key.publicJwk] } } : {}),
        ...(name === 'tls' ? { tls_client_auth_subject_dn: certs.client.subjectDn } : {}),
      });
    }
    return {
      version: glewlwydVersion as string,
      issuer,
      tokenEndpoint: `${issuer}/token`,
      jwksUri: `${issuer}/jwks`,
      discoveryUrl: `${issuer}/.well-known/openid-configuration`,
      ca: certs.ca.cert,
      dispatcher,
      clientCertificate: {
        cert: certs.client.cert,
        key: certs.client.key,
        subjectDn: certs.client.subjectDn,
      },
      clients,
      fetch,
      log: () => started.output(),
      close,
    };
  } catch (error) {
    const log = started.output();
    await close();
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${log.slice(-1_000)}`);
  }
}
