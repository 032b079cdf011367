/**
 * `npm run bench`: m2m-token and its peers against the same local servers, in one run.
 *
 *   npm run bench                  full run (about 90 s on 2 cores), writes BENCHMARKS.md
 *   npm run bench -- --quick       a few seconds, for CI: tiny counts, no 100k memory figure, no Redis
 *   npm run bench -- --no-write-md do not write BENCHMARKS.md
 *   npm run bench -- --only=cached,fetch   figures: cached, cold, audiences, fetch, uncached, memory, fleet, start
 *
 * The markdown goes to stdout, progress to stderr, the JSON to bench/results/<date>.json. A figure
 * that fails is reported as such; only a crash of the harness exits non-zero.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { badgatewayPeer } from './adapters/badgateway.js';
import { mapPeer } from './adapters/baselines.js';
import { msalPeer } from './adapters/msal-node.js';
import { openidClientPeer } from './adapters/openid-client.js';
import { simpleOauth2Peer } from './adapters/simple-oauth2.js';
import type { BenchEnv, Peer } from './adapters/types.js';
import { figureColdStart } from './cold-start.js';
import { type BenchConfig, FULL, QUICK } from './config.js';
import {
  authCases,
  type BenchContext,
  figureCached,
  figureColdAudiences,
  figureColdOneAudience,
  figureFetch,
  figureSigning,
  figureUncached,
} from './figures.js';
import { runFleetFigure } from './fleet.js';
import { machineInfo, ownVersion, packageVersion } from './lib/machine.js';
import { nowNs } from './lib/measure.js';
import { type BenchResults, checkTargets, toMarkdown } from './lib/report.js';
import { runMemoryFigure } from './memory.js';
import {
  BENCH_CLIENT_ID,
  BENCH_CLIENT_SECRET,
  type BenchServers,
  DEFAULT_AUDIENCE,
  startServerProcess,
} from './servers.js';

const FIGURES = ['cached', 'cold', 'audiences', 'fetch', 'uncached', 'memory', 'fleet', 'start'] as const;
type Figure = (typeof FIGURES)[number];

function parseArgs(argv: string[]): { cfg: BenchConfig; writeMarkdown: boolean; only: Set<Figure> } {
  const quick = argv.includes('--quick');
  const onlyArg = argv.find((a) => a.startsWith('--only='));
  const only = new Set<Figure>(
    onlyArg
      ? (onlyArg
          .slice('--only='.length)
          .split(',')
          .filter((f): f is Figure => (FIGURES as readonly string[]).includes(f)) as Figure[])
      : FIGURES,
  );
  const unknown = argv.filter((a) => !['--quick', '--no-write-md'].includes(a) && !a.startsWith('--only='));
  if (unknown.length > 0) process.stderr.write(`bench: ignoring unknown arguments: ${unknown.join(' ')}\n`);
  // BENCHMARKS.md is written by full runs of every figure only.
  const writeMarkdown = !quick && !argv.includes('--no-write-md') && onlyArg === undefined;
  return { cfg: quick ? QUICK : FULL, writeMarkdown, only };
}

async function loadM2m(notes: string[]): Promise<Peer | undefined> {
  try {
    const mod = await import('./adapters/m2m-token.js');
    return mod.m2mTokenPeer;
  } catch (err) {
    notes.push(
      `m2m-token could not be loaded from src/ (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); ` +
        'only the peers were measured.',
    );
    return undefined;
  }
}

async function main(): Promise<void> {
  const started = nowNs();
  const { cfg, writeMarkdown, only } = parseArgs(process.argv.slice(2));
  const log = (message: string) => {
    process.stderr.write(`[bench ${(Number(nowNs() - started) / 1e9).toFixed(1)}s] ${message}\n`);
  };
  const notes: string[] = [];
  const results: BenchResults = {
    meta: {
      date: new Date().toISOString(),
      mode: cfg.quick ? 'quick' : 'full',
      machine: machineInfo(),
      versions: {
        'm2m-token': ownVersion(),
        'openid-client': packageVersion('openid-client'),
        '@badgateway/oauth2-client': packageVersion('@badgateway/oauth2-client'),
        '@azure/msal-node': packageVersion('@azure/msal-node'),
        'simple-oauth2': packageVersion('simple-oauth2'),
        jose: packageVersion('jose'),
        undici: packageVersion('undici'),
      },
      serverLatencyMs: cfg.cold.latencyMs,
    },
    notes,
  };

  const m2m = await loadM2m(notes);
  const peers = [...(m2m ? [m2m] : []), badgatewayPeer, openidClientPeer, simpleOauth2Peer, msalPeer];
  let servers: BenchServers | undefined;
  try {
    log(`starting servers (${cfg.quick ? 'quick' : 'full'} run)`);
    servers = await startServerProcess();
    const env: BenchEnv = {
      tokenEndpoint: servers.tokenEndpoint,
      issuer: servers.issuer,
      resourceUrl: servers.resourceUrl,
      clientId: BENCH_CLIENT_ID,
      clientSecret: BENCH_CLIENT_SECRET,
      audience: DEFAULT_AUDIENCE,
      scope: ['read:a', 'write:b'],
    };
    const ctx: BenchContext = { servers, env, cfg, peers, mapPeer, log };

    if (only.has('start')) {
      // First, while the machine is quiet: fresh processes, against a server answering at once.
      log(`figure 8: cold start (${cfg.coldStart.rounds} fresh processes per library)`);
      await servers.setLatency(0);
      results.coldStart = await figureColdStart(env, cfg.coldStart, log);
    }
    if (only.has('cached')) {
      log('figure 1: cached getToken()');
      results.cached = await figureCached(ctx);
    }
    if (only.has('fetch')) {
      log('figure 4: fetch wrapper');
      results.fetch = await figureFetch(ctx);
    }
    if (only.has('uncached')) {
      log('figure 5: uncached token requests');
      const cases = authCases(cfg.uncached.methods);
      results.uncached = await figureUncached(ctx, cases);
      results.signing = await figureSigning(ctx, cases);
    }
    if (only.has('cold')) {
      log(`figure 2: ${cfg.cold.concurrent} concurrent cold calls`);
      results.coldOneAudience = await figureColdOneAudience(ctx);
    }
    if (only.has('audiences')) {
      log(`figure 3: ${cfg.cold.audiences} audiences x ${cfg.cold.perAudience}`);
      results.coldAudiences = await figureColdAudiences(ctx);
    }
    if (only.has('memory')) {
      log(`figure 6: memory (${cfg.memory.sizes.join(', ')} entries)`);
      results.memory = await runMemoryFigure(cfg.memory.sizes, cfg.memory.clientSizes, cfg.memory.deadlineMs);
    }
    if (only.has('fleet') && cfg.fleet.enabled) {
      log('figure 7: fleet (a shared RedisTokenCache at scale)');
      results.fleet = await runFleetFigure(servers, cfg.fleet, log);
    } else if (only.has('fleet')) {
      results.fleet = { rows: [], skipped: 'not run in --quick mode' };
    }
  } finally {
    await servers?.close();
  }

  for (const peer of peers) if (peer.note) notes.push(peer.note);
  notes.push(
    'Figures 2 and 3 use a fresh client per library and a server that answers token requests after ' +
      `${cfg.cold.latencyMs} ms; "ideal" is the number of distinct cache keys asked for.`,
  );
  results.targets = checkTargets(results);
  results.meta.durationSeconds = Number(nowNs() - started) / 1e9;

  const markdown = toMarkdown(results, {
    cold: `${cfg.cold.concurrent.toLocaleString('en-US')} concurrent cold getToken(), one audience, ${cfg.cold.latencyMs} ms server latency`,
    audiences: `${cfg.cold.audiences} audiences x ${cfg.cold.perAudience} concurrent calls, ${cfg.cold.latencyMs} ms server latency`,
  });

  const resultsDir = new URL('./results/', import.meta.url);
  mkdirSync(resultsDir, { recursive: true });
  const stamp = results.meta.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const jsonFile = new URL(`${stamp}${cfg.quick ? '-quick' : ''}.json`, resultsDir);
  writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
  log(`wrote ${jsonFile.pathname}`);
  if (writeMarkdown) {
    const mdFile = new URL('../BENCHMARKS.md', import.meta.url);
    // The written reading (what the figures mean, what was profiled, what remains) is kept by hand in
    // bench/READING.md and follows the generated tables.
    const readingFile = new URL('./READING.md', import.meta.url);
    const reading = existsSync(readingFile) ? `\n${readFileSync(readingFile, 'utf8')}` : '';
    writeFileSync(mdFile, `${markdown}${reading}`);
    log(`wrote ${mdFile.pathname}`);
  }
  await new Promise<void>((resolve) => process.stdout.write(`${markdown}\n`, () => resolve()));
}

main().then(
  // Some peers keep sockets or timers alive; the run is over, so leave explicitly.
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `bench crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
