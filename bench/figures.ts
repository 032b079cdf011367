/** Figures 1 to 5: each runs every peer that can do it and returns rows for the report. */
import { generateKeyPairSync } from 'node:crypto';
import { importPKCS8, SignJWT } from 'jose';
import { plainFetch } from './adapters/baselines.js';
import type { AuthCase, BenchEnv, Peer, TokenAdapter } from './adapters/types.js';
import type { BenchConfig } from './config.js';
import {
  measureSequential,
  median,
  nowNs,
  pairedRatio,
  percentile,
  runSlice,
  timedSlice,
  warmAndCalibrate,
  withDeadline,
} from './lib/measure.js';
import type { BenchServers } from './servers.js';

export interface BenchContext {
  servers: BenchServers;
  env: BenchEnv;
  cfg: BenchConfig;
  /** the libraries, m2m-token first when it loaded */
  peers: Peer[];
  mapPeer: Peer;
  log(message: string): void;
}

const errorText = (err: unknown): string =>
  err instanceof Error ? `${err.name}: ${err.message}` : String(err);

async function closeQuietly(adapter: TokenAdapter | undefined): Promise<void> {
  try {
    await adapter?.close?.();
  } catch {
    // closing is best effort
  }
}

function checkToken(adapter: TokenAdapter, result: unknown, what: string): void {
  const token = adapter.tokenOf(result);
  if (typeof token !== 'string' || token.split('.').length !== 3) {
    throw new Error(`${what}: the call did not resolve to an access token`);
  }
}

// ---------------------------------------------------------------------------------------------
// Figure 1: cached getToken()

export interface CachedRow {
  peer: string;
  variant: 'default audience' | 'per-call scope array';
  /** median of the per-round rates */
  callsPerSec?: number;
  p50Ns?: number;
  p99Ns?: number;
  /** median over rounds of this rate / the bare Map's rate in the same round */
  vsMap?: number;
  /** calls/s in each round, in round order (for paired ratios between any two rows) */
  roundRates?: number[];
  error?: string;
}

/** The per-call scope: a new array on every call, different from the default scope. */
export const PER_CALL_SCOPE = (): string[] => ['orders:read', 'orders:write'];

interface Contender {
  row: CachedRow;
  fn: () => Promise<unknown>;
  batch: number;
  samples: number[];
}

/**
 * Every library's cached call in short slices, round after round, the order reversed each round,
 * so that drift and other load on the machine hit all of them alike. Ratios are taken per round.
 */
export async function figureCached(ctx: BenchContext): Promise<CachedRow[]> {
  const c = ctx.cfg.cached;
  const contenders: Contender[] = [];
  const failed: CachedRow[] = [];
  const adapters: TokenAdapter[] = [];
  try {
    for (const peer of [ctx.mapPeer, ...ctx.peers]) {
      try {
        const adapter = await peer.create(ctx.env);
        adapters.push(adapter);
        if (!adapter.cached) continue;
        checkToken(adapter, await adapter.getToken(), peer.name);
        const calls: Array<[CachedRow['variant'], () => Promise<unknown>]> = [
          ['default audience', () => adapter.getToken()],
        ];
        const scoped = adapter.getTokenScoped?.bind(adapter);
        if (scoped) {
          checkToken(adapter, await scoped(PER_CALL_SCOPE()), peer.name);
          calls.push(['per-call scope array', () => scoped(PER_CALL_SCOPE())]);
        }
        for (const [variant, fn] of calls) {
          ctx.log(`  cached: warming ${peer.name}, ${variant}`);
          const batch = await withDeadline(`${peer.name} warm-up`, c.warmupMs * 10 + 5_000, () =>
            warmAndCalibrate(fn, { warmupCalls: c.warmupCalls, warmupMs: c.warmupMs }),
          );
          contenders.push({ row: { peer: peer.name, variant, roundRates: [] }, fn, batch, samples: [] });
        }
      } catch (err) {
        failed.push({ peer: peer.name, variant: 'default audience', error: errorText(err) });
      }
    }
    ctx.log(`  cached: ${c.rounds} rounds of ${contenders.length} x ${c.sliceMs} ms`);
    for (let round = 0; round < c.rounds; round++) {
      const order = round % 2 === 0 ? contenders : [...contenders].reverse();
      for (const k of order) {
        if (k.row.error) continue;
        try {
          const s = await withDeadline(`${k.row.peer} cached slice`, c.sliceMs * 10 + 5_000, () =>
            timedSlice(k.fn, { batchSize: k.batch, sliceMs: c.sliceMs, maxCalls: c.maxCallsPerSlice }),
          );
          k.row.roundRates?.push(s.calls / (s.ns / 1e9));
          for (const x of s.samples) if (k.samples.length < 200_000) k.samples.push(x);
        } catch (err) {
          k.row.error = errorText(err);
        }
      }
    }
  } finally {
    for (const a of adapters) await closeQuietly(a);
  }
  const map = contenders.find((k) => k.row.peer === ctx.mapPeer.name);
  for (const k of contenders) {
    const rates = k.row.roundRates ?? [];
    if (k.row.error || rates.length === 0) continue;
    k.samples.sort((a, b) => a - b);
    k.row.callsPerSec = median(rates);
    k.row.p50Ns = percentile(k.samples, 50);
    k.row.p99Ns = percentile(k.samples, 99);
    if (map?.row.roundRates) k.row.vsMap = pairedMedian(rates, map.row.roundRates);
  }
  return [...contenders.map((k) => k.row), ...failed];
}

/** Median over rounds of a[i] / b[i]. */
export function pairedMedian(a: number[], b: number[]): number | undefined {
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x !== undefined && y !== undefined && y > 0) ratios.push(x / y);
  }
  return ratios.length > 0 ? median(ratios) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Figures 2 and 3: cold concurrent calls

export interface ColdRow {
  peer: string;
  calls: number;
  /** distinct cache keys asked for: the ideal number of token requests */
  distinctKeys: number;
  tokenRequests?: number;
  wallMs?: number;
  errors?: number;
  error?: string;
}

async function coldRun(
  ctx: BenchContext,
  peer: Peer,
  distinctKeys: number,
  makeCalls: (a: TokenAdapter) => Array<Promise<unknown>> | undefined,
): Promise<ColdRow | undefined> {
  const { servers, cfg } = ctx;
  let adapter: TokenAdapter | undefined;
  try {
    // An untimed pass on a throwaway client first (a few calls for one audience), so that no peer
    // pays for cold JIT or a cold connection pool just because it runs first.
    let warm: TokenAdapter | undefined;
    try {
      warm = await peer.create(ctx.env);
      const w = warm;
      const forAudience = w.getTokenFor?.bind(w);
      await withDeadline(`${peer.name} warm-up`, cfg.cold.deadlineMs, () =>
        Promise.allSettled(
          Array.from({ length: 8 }, (_, i) =>
            forAudience ? forAudience(`urn:bench:warm:${i % 2}`) : w.getToken(),
          ),
        ),
      );
    } finally {
      await closeQuietly(warm);
    }
    adapter = await peer.create(ctx.env);
    await servers.setLatency(cfg.cold.latencyMs);
    await servers.reset();
    const start = nowNs();
    const calls = makeCalls(adapter);
    if (calls === undefined) return undefined;
    const settled = await withDeadline(`${peer.name} cold calls`, cfg.cold.deadlineMs, () =>
      Promise.allSettled(calls),
    );
    const wallMs = Number(nowNs() - start) / 1e6;
    const stats = await servers.stats();
    return {
      peer: peer.name,
      calls: calls.length,
      distinctKeys,
      tokenRequests: stats.total,
      wallMs,
      errors: settled.filter((s) => s.status === 'rejected').length,
    };
  } catch (err) {
    return { peer: peer.name, calls: 0, distinctKeys, error: errorText(err) };
  } finally {
    await servers.setLatency(0);
    await closeQuietly(adapter);
  }
}

export async function figureColdOneAudience(ctx: BenchContext): Promise<ColdRow[]> {
  const n = ctx.cfg.cold.concurrent;
  const rows: ColdRow[] = [];
  for (const peer of ctx.peers) {
    ctx.log(`  cold x${n}: ${peer.name}`);
    const row = await coldRun(ctx, peer, 1, (a) => Array.from({ length: n }, () => a.getToken()));
    if (row) rows.push(row);
  }
  return rows;
}

export async function figureColdAudiences(ctx: BenchContext): Promise<ColdRow[]> {
  const { audiences, perAudience } = ctx.cfg.cold;
  const names = Array.from({ length: audiences }, (_, i) => `urn:bench:aud:${i}`);
  const rows: ColdRow[] = [];
  for (const peer of ctx.peers) {
    ctx.log(`  ${audiences} audiences x ${perAudience}: ${peer.name}`);
    const row = await coldRun(ctx, peer, audiences, (a) => {
      const forAudience = a.getTokenFor?.bind(a);
      if (!forAudience) return undefined;
      const calls: Array<Promise<unknown>> = [];
      // Round-robin over the audiences so that the calls for one key are spread out in time.
      for (let j = 0; j < perAudience; j++) for (const aud of names) calls.push(forAudience(aud));
      return calls;
    });
    if (row) rows.push(row);
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Figure 4: fetch wrapper vs fetch with a static header

export interface FetchRow {
  peer: string;
  concurrency: number;
  wrapperPerSec?: number;
  plainPerSec?: number;
  /** median over slice pairs of wrapper rate / plain rate */
  ratio?: number;
  minRatio?: number;
  maxRatio?: number;
  /** client-process CPU per request, µs: wrapper and plain fetch */
  wrapperCpuUs?: number;
  plainCpuUs?: number;
  /** median over pairs of wrapper CPU per request / plain CPU per request */
  cpuRatio?: number;
  error?: string;
}

export async function figureFetch(ctx: BenchContext): Promise<FetchRow[]> {
  const { cfg, env } = ctx;
  const rows: FetchRow[] = [];
  for (const peer of ctx.peers) {
    let adapter: TokenAdapter | undefined;
    try {
      adapter = await peer.create(env);
      const wrapped = adapter.fetch?.bind(adapter);
      if (!wrapped) continue;
      const token = adapter.tokenOf(await adapter.getToken());
      const plain = plainFetch(token);
      const first = await wrapped(env.resourceUrl);
      await first.arrayBuffer();
      if (first.status !== 200) throw new Error(`the wrapper got HTTP ${first.status} from the resource`);
      const a = async () => {
        const res = await plain(env.resourceUrl);
        await res.arrayBuffer();
      };
      const b = async () => {
        const res = await wrapped(env.resourceUrl);
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      };
      for (const concurrency of cfg.fetch.concurrency) {
        ctx.log(`  fetch: ${peer.name} at ${concurrency}`);
        try {
          const r = await withDeadline(
            `${peer.name} fetch`,
            (cfg.fetch.pairs * 2 * cfg.fetch.sliceMs + 2 * cfg.fetch.warmupMs) * 2 + 10_000,
            () =>
              pairedRatio(a, b, {
                pairs: cfg.fetch.pairs,
                sliceMs: cfg.fetch.sliceMs,
                warmupMs: cfg.fetch.warmupMs,
                concurrency,
                maxOpsPerSlice: cfg.fetch.maxOpsPerSlice,
              }),
          );
          rows.push({
            peer: peer.name,
            concurrency,
            wrapperPerSec: r.bPerSec,
            plainPerSec: r.aPerSec,
            ratio: r.ratio,
            minRatio: r.minRatio,
            maxRatio: r.maxRatio,
            wrapperCpuUs: r.bCpuUsPerOp,
            plainCpuUs: r.aCpuUsPerOp,
            cpuRatio: r.cpuRatio,
            ...(r.errors > 0 ? { error: `${r.errors} failed requests` } : {}),
          });
        } catch (err) {
          rows.push({ peer: peer.name, concurrency, error: errorText(err) });
        }
      }
    } catch (err) {
      rows.push({ peer: peer.name, concurrency: 0, error: errorText(err) });
    } finally {
      await closeQuietly(adapter);
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Figure 5: uncached token requests per client authentication method, and signing cost

/** The client authentication cases of figure 5 (all, or those labelled in `only`); keys made here. */
export function authCases(only?: string[]): AuthCase[] {
  const pem = (type: 'rsa' | 'ec' | 'ed25519') => {
    const { privateKey } =
      type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : type === 'ec'
          ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
          : generateKeyPairSync('ed25519');
    return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  };
  // Factories, so that no key is generated for a case that is not run.
  const all: Array<[string, () => AuthCase]> = [
    ['client_secret_basic', () => ({ label: 'client_secret_basic', authMethod: 'client_secret_basic' })],
    ['client_secret_post', () => ({ label: 'client_secret_post', authMethod: 'client_secret_post' })],
    ['client_secret_json', () => ({ label: 'client_secret_json', authMethod: 'client_secret_json' })],
    [
      'private_key_jwt RS256',
      () => ({
        label: 'private_key_jwt RS256',
        authMethod: 'private_key_jwt',
        alg: 'RS256',
        privateKeyPem: pem('rsa'),
      }),
    ],
    [
      'private_key_jwt ES256',
      () => ({
        label: 'private_key_jwt ES256',
        authMethod: 'private_key_jwt',
        alg: 'ES256',
        privateKeyPem: pem('ec'),
      }),
    ],
    [
      'private_key_jwt EdDSA',
      () => ({
        label: 'private_key_jwt EdDSA',
        authMethod: 'private_key_jwt',
        alg: 'EdDSA',
        privateKeyPem: pem('ed25519'),
      }),
    ],
  ];
  return all.filter(([label]) => only === undefined || only.includes(label)).map(([, make]) => make());
}

export interface UncachedRow {
  auth: string;
  /** m2m-token token requests/s */
  m2mPerSec?: number;
  /** openid-client grants/s */
  openidPerSec?: number;
  /** the openid-client method compared with (its own, or client_secret_post for JSON) */
  comparedWith?: string;
  /** median over slice pairs of m2m rate / openid-client rate */
  ratio?: number;
  /** client-process CPU per token request, µs */
  m2mCpuUs?: number;
  openidCpuUs?: number;
  /** median over pairs of m2m CPU per request / openid-client CPU per request */
  cpuRatio?: number;
  /** the client authentication the server saw from m2m-token (checks the method really used) */
  serverSaw?: string;
  error?: string;
}

export async function figureUncached(ctx: BenchContext, cases: AuthCase[]): Promise<UncachedRow[]> {
  const { cfg, env } = ctx;
  const m2m = ctx.peers.find((p) => p.name === 'm2m-token');
  const openid = ctx.peers.find((p) => p.name === 'openid-client');
  const rows: UncachedRow[] = [];
  const workers = async (peer: Peer | undefined, auth: AuthCase) => {
    if (!peer?.createUncached) return undefined;
    const fns: Array<() => Promise<unknown>> = [];
    // One client per worker: no single-flight can merge the workers' requests.
    for (let i = 0; i < cfg.uncached.concurrency; i++) {
      const fn = await peer.createUncached(env, auth);
      if (!fn) return undefined;
      fns.push(fn);
    }
    return { call: (worker: number) => (fns[worker % fns.length] as () => Promise<unknown>)() };
  };
  const slice = { concurrency: cfg.uncached.concurrency, sliceMs: cfg.uncached.sliceMs, maxOps: 1e6 };
  for (const auth of cases) {
    ctx.log(`  uncached: ${auth.label}`);
    const row: UncachedRow = { auth: auth.label };
    try {
      let o = await workers(openid, auth);
      row.comparedWith = auth.label;
      if (!o) {
        o = await workers(openid, { label: 'client_secret_post', authMethod: 'client_secret_post' });
        row.comparedWith = o ? 'client_secret_post (no such method)' : undefined;
      }
      const m = await workers(m2m, auth);
      const budget = (cfg.uncached.pairs * 2 * cfg.uncached.sliceMs + 2 * cfg.uncached.warmupMs) * 2 + 10_000;
      if (m) {
        // Check the request really carries the method under test.
        await ctx.servers.reset();
        await m.call(0);
        const seen = Object.keys((await ctx.servers.stats()).byMethod);
        row.serverSaw = seen.join(', ');
      }
      if (m && o) {
        const mo = m;
        const oo = o;
        const r = await withDeadline(`uncached ${auth.label}`, budget, () =>
          pairedRatio(oo.call, mo.call, {
            pairs: cfg.uncached.pairs,
            sliceMs: cfg.uncached.sliceMs,
            warmupMs: cfg.uncached.warmupMs,
            concurrency: cfg.uncached.concurrency,
            maxOpsPerSlice: 1e6,
          }),
        );
        row.m2mPerSec = r.bPerSec;
        row.openidPerSec = r.aPerSec;
        row.ratio = r.ratio;
        row.m2mCpuUs = r.bCpuUsPerOp;
        row.openidCpuUs = r.aCpuUsPerOp;
        row.cpuRatio = r.cpuRatio;
        if (r.errors > 0) row.error = `${r.errors} failed requests`;
      } else {
        const only = m ?? o;
        if (only) {
          const s = await withDeadline(`uncached ${auth.label}`, budget, async () => {
            await runSlice(only.call, { ...slice, sliceMs: cfg.uncached.warmupMs });
            return runSlice(only.call, { ...slice, sliceMs: cfg.uncached.sliceMs * cfg.uncached.pairs });
          });
          const rate = s.ops / (s.ns / 1e9);
          if (m) row.m2mPerSec = rate;
          else row.openidPerSec = rate;
          if (s.errors > 0) row.error = `${s.errors} failed requests`;
        }
      }
    } catch (err) {
      row.error = errorText(err);
    }
    rows.push(row);
  }
  return rows;
}

export interface SigningRow {
  alg: string;
  signsPerSec?: number;
  usPerSign?: number;
  error?: string;
}

/** The cost of one client assertion: jose SignJWT with an imported key, per algorithm. */
export async function figureSigning(ctx: BenchContext, cases: AuthCase[]): Promise<SigningRow[]> {
  const rows: SigningRow[] = [];
  for (const auth of cases) {
    if (!auth.alg || !auth.privateKeyPem) continue;
    const alg = auth.alg;
    try {
      const key = await importPKCS8(auth.privateKeyPem, alg);
      const sign = () =>
        new SignJWT({})
          .setProtectedHeader({ alg })
          .setIssuer(ctx.env.clientId)
          .setSubject(ctx.env.clientId)
          .setAudience(ctx.env.issuer)
          .setJti(crypto.randomUUID())
          .setIssuedAt()
          .setExpirationTime('60s')
          .sign(key);
      const r = await withDeadline(`signing ${alg}`, ctx.cfg.signing.maxMs * 3 + 5_000, () =>
        measureSequential(sign, {
          maxCalls: ctx.cfg.signing.maxOps,
          maxMs: ctx.cfg.signing.maxMs,
          batchSize: 8,
          warmupCalls: 20,
        }),
      );
      rows.push({ alg, signsPerSec: r.callsPerSec, usPerSign: 1e6 / r.callsPerSec });
    } catch (err) {
      rows.push({ alg, error: errorText(err) });
    }
  }
  return rows;
}
