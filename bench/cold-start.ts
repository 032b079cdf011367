/**
 * Figure 8, cold start (issue 14.6): for every library, in fresh Node processes started one after the
 * other in rounds (the peers' order reversed each round, so load on the machine hits all alike):
 *
 * - import: `await import(<library>)`, timed inside the new process;
 * - import + first token: from before the import to a token from the bench server (the client
 *   constructed as each library documents it, client_secret_basic);
 *
 * m2m-token is measured as published (the built dist/, not src/ through tsx). Medians over the rounds;
 * the ratio to openid-client is the median of the per-round ratios. Beside them, the size of each
 * library's whole entry bundled for a worker (esbuild, platform browser, workerd conditions; minified
 * and gzip), or why it does not bundle.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundleForWorkers } from '../scripts/runtimes/worker-bundle.mjs';
import type { BenchEnv } from './adapters/types.js';
import { median } from './lib/measure.js';

const REPO = resolve(import.meta.dirname, '..');
const M2M_DIST = join(REPO, 'dist/index.js');

export interface ColdStartRow {
  peer: string;
  /** median ms of `await import()` in a fresh process */
  importMs?: number;
  /** median ms from before the import to the first token */
  firstTokenMs?: number;
  /** median of the per-round ratios import(peer) / import(openid-client) */
  importVsOpenidClient?: number;
  bundle?: { bytes: number; gzipBytes: number } | { error: string };
  processes: number;
  error?: string;
}

export interface ColdStartConfig {
  rounds: number;
  /** build dist/ first (full runs); quick runs use the dist/ that CI just built */
  build: boolean;
}

/** What each process runs after its import; `mod` is the library's module, `env` the bench env. */
const FIRST_TOKEN: Record<string, { specifier: string; code: string }> = {
  'm2m-token': {
    specifier: pathToFileURL(M2M_DIST).href,
    code: `const client = new mod.ClientCredentialsClient({ tokenEndpoint: env.tokenEndpoint, clientId: env.clientId,
      clientSecret: env.clientSecret, audience: env.audience, scope: env.scope });
    token = (await client.getToken()).accessToken;`,
  },
  'openid-client': {
    specifier: 'openid-client',
    code: `const config = new mod.Configuration({ issuer: env.issuer, token_endpoint: env.tokenEndpoint }, env.clientId,
      env.clientSecret, mod.ClientSecretBasic(env.clientSecret));
    mod.allowInsecureRequests(config);
    token = (await mod.clientCredentialsGrant(config, { audience: env.audience, scope: env.scope.join(' ') })).access_token;`,
  },
  '@badgateway/oauth2-client': {
    specifier: '@badgateway/oauth2-client',
    code: `const client = new mod.OAuth2Client({ tokenEndpoint: env.tokenEndpoint, clientId: env.clientId,
      clientSecret: env.clientSecret, authenticationMethod: 'client_secret_basic' });
    token = (await client.clientCredentials({ scope: env.scope, extraParams: { audience: env.audience } })).accessToken;`,
  },
  'simple-oauth2': {
    specifier: 'simple-oauth2',
    code: `const url = new URL(env.tokenEndpoint);
    const cc = new mod.ClientCredentials({ client: { id: env.clientId, secret: env.clientSecret },
      auth: { tokenHost: url.origin, tokenPath: url.pathname }, options: { authorizationMethod: 'header' } });
    token = (await cc.getToken({ scope: env.scope, audience: env.audience })).token.access_token;`,
  },
  '@azure/msal-node': {
    specifier: '@azure/msal-node',
    // As bench/adapters/msal-node.ts: an https authority (MSAL requires it) sent to the http loopback server.
    code: `const host = new URL(env.tokenEndpoint).host;
    const httpOrigin = new URL(env.tokenEndpoint).origin;
    const httpsOrigin = 'https://' + host;
    const authority = httpsOrigin + '/bench';
    const send = async (method, url, options) => {
      const init = { method, headers: options?.headers ?? {} };
      if (method === 'POST') init.body = options?.body ?? '';
      const res = await fetch(httpOrigin + url.slice(httpsOrigin.length), init);
      const headers = {};
      res.headers.forEach((v, k) => { headers[k] = v; });
      return { headers, body: await res.json(), status: res.status };
    };
    const cca = new mod.ConfidentialClientApplication({
      auth: { clientId: env.clientId, clientSecret: env.clientSecret, authority, knownAuthorities: [host],
        cloudDiscoveryMetadata: JSON.stringify({ tenant_discovery_endpoint: authority + '/v2.0/.well-known/openid-configuration',
          'api-version': '1.1', metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }] }),
        authorityMetadata: JSON.stringify({ issuer: authority, token_endpoint: httpsOrigin + new URL(env.tokenEndpoint).pathname,
          authorization_endpoint: authority + '/authorize', end_session_endpoint: authority + '/logout', jwks_uri: authority + '/jwks' }) },
      system: { networkClient: { sendGetRequestAsync: (u, o) => send('GET', u, o), sendPostRequestAsync: (u, o) => send('POST', u, o) },
        loggerOptions: { logLevel: mod.LogLevel.Error, piiLoggingEnabled: false, loggerCallback: () => {} } },
    });
    token = (await cca.acquireTokenByClientCredential({ scopes: [env.audience + '/.default'] })).accessToken;`,
  },
};

export const COLD_START_PEERS = Object.keys(FIRST_TOKEN);

function programFor(peer: string): string {
  const { specifier, code } = FIRST_TOKEN[peer] as { specifier: string; code: string };
  return `const env = JSON.parse(process.env.BENCH_ENV);
const t0 = performance.now();
const mod = await import(${JSON.stringify(specifier)});
const t1 = performance.now();
let token;
${code}
const t2 = performance.now();
if (typeof token !== 'string' || token.length < 10) throw new Error('no token');
process.stdout.write(JSON.stringify({ importMs: t1 - t0, firstTokenMs: t2 - t0 }));
process.exit(0);
`;
}

function runOnce(file: string, env: BenchEnv): Promise<{ importMs: number; firstTokenMs: number }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, BENCH_ENV: JSON.stringify(env) };
  delete childEnv.NODE_OPTIONS; // no loader of ours (tsx) in the measured process
  return new Promise((resolvePromise, reject) => {
    execFile(process.execPath, [file], { env: childEnv, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error)
        reject(new Error(`${error.message.split('\n')[0]} ${stderr.split('\n').slice(0, 3).join(' ')}`));
      else resolvePromise(JSON.parse(stdout));
    });
  });
}

async function bundleSize(peer: string): Promise<ColdStartRow['bundle']> {
  try {
    const entry =
      peer === 'm2m-token'
        ? M2M_DIST
        : { contents: `export * from ${JSON.stringify(FIRST_TOKEN[peer]?.specifier)};`, resolveDir: REPO };
    const { bytes, gzipBytes } = await bundleForWorkers(entry, { minify: true });
    return { bytes, gzipBytes };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const unresolved = [...message.matchAll(/Could not resolve "([^"]+)"/g)].map((m) => m[1]);
    return {
      error: unresolved.length
        ? `does not bundle: ${[...new Set(unresolved)].length} unresolved imports (${[...new Set(unresolved)].slice(0, 3).join(', ')}, ...)`
        : `does not bundle: ${message.split('\n')[0]}`,
    };
  }
}

export async function figureColdStart(
  env: BenchEnv,
  cfg: ColdStartConfig,
  log: (message: string) => void,
): Promise<ColdStartRow[]> {
  if (cfg.build || !existsSync(M2M_DIST)) {
    log('  cold start: building dist/');
    execFileSync('npx', ['tsup'], { cwd: REPO, stdio: 'ignore' });
  }
  // Programs live under the repository, so that bare specifiers resolve from its node_modules.
  const dir = join(REPO, 'node_modules/.cache/m2m-token-bench');
  mkdirSync(dir, { recursive: true });
  const files = new Map(
    COLD_START_PEERS.map((peer, i) => {
      const file = join(dir, `cold-start-${i}.mjs`);
      writeFileSync(file, programFor(peer));
      return [peer, file] as const;
    }),
  );
  const samples = new Map(
    COLD_START_PEERS.map((p) => [p, [] as { importMs: number; firstTokenMs: number }[]]),
  );
  const errors = new Map<string, string>();
  for (let round = 0; round < cfg.rounds; round++) {
    const order = round % 2 === 0 ? COLD_START_PEERS : [...COLD_START_PEERS].reverse();
    for (const peer of order) {
      if (errors.has(peer)) continue;
      try {
        samples.get(peer)?.push(await runOnce(files.get(peer) as string, env));
      } catch (error) {
        errors.set(peer, error instanceof Error ? error.message : String(error));
      }
    }
  }
  log(`  cold start: ${cfg.rounds} fresh processes per library; bundling each for a worker`);
  const openid = samples.get('openid-client') ?? [];
  const rows: ColdStartRow[] = [];
  for (const peer of COLD_START_PEERS) {
    const s = samples.get(peer) ?? [];
    const ratios = s
      .map((x, i) => (openid[i] ? x.importMs / openid[i].importMs : Number.NaN))
      .filter(Number.isFinite);
    rows.push({
      peer,
      processes: s.length,
      ...(s.length > 0
        ? {
            importMs: median(s.map((x) => x.importMs)),
            firstTokenMs: median(s.map((x) => x.firstTokenMs)),
            importVsOpenidClient: ratios.length > 0 ? median(ratios) : undefined,
          }
        : {}),
      bundle: await bundleSize(peer),
      ...(errors.has(peer) ? { error: errors.get(peer) } : {}),
    });
  }
  return rows;
}
