/** Turns the results into the targets check and a markdown document. */
import type { ColdStartRow } from '../cold-start.js';
import {
  type CachedRow,
  type ColdRow,
  type FetchRow,
  pairedMedian,
  type SigningRow,
  type UncachedRow,
} from '../figures.js';
import type { FleetResult, FleetRow } from '../fleet.js';
import type { MemoryRow } from '../memory.js';
import type { MachineInfo } from './machine.js';

export interface BenchResults {
  meta: {
    date: string;
    mode: 'full' | 'quick';
    durationSeconds?: number;
    machine: MachineInfo;
    versions: Record<string, string>;
    serverLatencyMs: number;
  };
  cached?: CachedRow[];
  coldOneAudience?: ColdRow[];
  coldAudiences?: ColdRow[];
  fetch?: FetchRow[];
  uncached?: UncachedRow[];
  signing?: SigningRow[];
  memory?: MemoryRow[];
  fleet?: FleetResult;
  coldStart?: ColdStartRow[];
  targets?: TargetResult[];
  notes: string[];
}

export interface TargetResult {
  target: string;
  measured: string;
  status: 'PASS' | 'MISS' | 'n/a';
}

const M2M = 'm2m-token';
const BADGATEWAY = '@badgateway/oauth2-client';

export function fmtRate(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return 'n/a';
  if (n >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(1);
}

export function fmtNs(ns: number | undefined): string {
  if (ns === undefined || !Number.isFinite(ns)) return 'n/a';
  if (ns < 1_000) return `${Math.round(ns)} ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(2)} µs`;
  return `${(ns / 1_000_000).toFixed(2)} ms`;
}

export function fmtRatio(r: number | undefined): string {
  if (r === undefined || !Number.isFinite(r)) return 'n/a';
  return `${r.toFixed(r < 0.1 ? 3 : 2)}x`;
}

const fmtMs = (ms: number | undefined): string =>
  ms === undefined || !Number.isFinite(ms) ? 'n/a' : `${Math.round(ms).toLocaleString('en-US')} ms`;

const fmtPerCall = (n: number | undefined): string =>
  n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(n < 0.1 ? 3 : 2);

function fleetLabel(row: FleetRow): string {
  return row.kind === 'in-process'
    ? `${row.replicas} replicas x ${row.audiences} audiences (one process)`
    : `${row.replicas} processes x ${row.audiences} audiences${row.burners ? `, ${row.burners} CPU burners` : ''}`;
}

function status(ok: boolean | undefined): TargetResult['status'] {
  if (ok === undefined) return 'n/a';
  return ok ? 'PASS' : 'MISS';
}

export function checkTargets(r: BenchResults): TargetResult[] {
  const out: TargetResult[] = [];
  const start = r.coldStart?.find((row) => row.peer === M2M);
  if (r.coldStart) {
    out.push({
      target:
        "cold start: `await import('m2m-token')` <= 1.2x openid-client's (median of paired fresh processes)",
      measured:
        start?.importVsOpenidClient === undefined
          ? (start?.error ?? 'not measured')
          : `${start.importVsOpenidClient.toFixed(2)}x`,
      status: status(
        start?.importVsOpenidClient === undefined ? undefined : start.importVsOpenidClient <= 1.2,
      ),
    });
  }
  const cached = (peer: string, variant: CachedRow['variant']) =>
    r.cached?.find((c) => c.peer === peer && c.variant === variant && c.callsPerSec !== undefined);

  const m2mDefault = cached(M2M, 'default audience');
  out.push({
    target: 'cached getToken(), default key: >= 1/3 of a bare Map lookup',
    measured: m2mDefault ? `${fmtRatio(m2mDefault.vsMap)} of Map` : 'not measured',
    status: status(m2mDefault?.vsMap === undefined ? undefined : m2mDefault.vsMap >= 1 / 3),
  });
  const bgDefault = cached(BADGATEWAY, 'default audience');
  const paired = (a: CachedRow | undefined, b: CachedRow | undefined) =>
    a?.roundRates && b?.roundRates ? pairedMedian(a.roundRates, b.roundRates) : undefined;
  const rDefault = paired(m2mDefault, bgDefault);
  out.push({
    target: 'cached getToken(), default key: faster than @badgateway/oauth2-client',
    measured: rDefault === undefined ? 'not measured' : `${fmtRatio(rDefault)} of @badgateway`,
    status: status(rDefault === undefined ? undefined : rDefault > 1),
  });
  const m2mScoped = cached(M2M, 'per-call scope array');
  const bgScoped = cached(BADGATEWAY, 'per-call scope array');
  const rScoped = paired(m2mScoped, bgScoped);
  out.push({
    target: 'cached getToken() with per-call scope arrays: no slower than @badgateway/oauth2-client',
    measured: rScoped === undefined ? 'not measured' : `${fmtRatio(rScoped)} of @badgateway`,
    status: status(rScoped === undefined ? undefined : rScoped >= 1),
  });

  for (const concurrency of [1, 32]) {
    const row = r.fetch?.find(
      (f) => f.peer === M2M && f.concurrency === concurrency && f.ratio !== undefined,
    );
    out.push({
      target: `fetch wrapper >= 0.97 of plain fetch with a static header (${concurrency === 1 ? 'sequential' : `${concurrency} concurrent`})`,
      measured: row ? fmtRatio(row.ratio) : 'not measured',
      status: status(row?.ratio === undefined ? undefined : row.ratio >= 0.97),
    });
  }

  const coldCheck = (rows: ColdRow[] | undefined, label: string) => {
    const row = rows?.find((c) => c.peer === M2M && c.tokenRequests !== undefined);
    out.push({
      target: `${label}: token requests == distinct keys`,
      measured: row ? `${row.tokenRequests} requests for ${row.distinctKeys} keys` : 'not measured',
      status: status(row ? row.tokenRequests === row.distinctKeys && row.errors === 0 : undefined),
    });
  };
  coldCheck(r.coldOneAudience, 'figure 2 (concurrent cold, one audience)');
  coldCheck(r.coldAudiences, 'figure 3 (audiences x concurrent calls)');
  for (const row of r.fleet?.rows ?? []) {
    const label = `figure 7 (fleet, ${fleetLabel(row)})`;
    const measured = row.tokenRequests !== undefined;
    out.push({
      target: `${label}: token requests <= 1.1x ideal, no failed call`,
      measured: measured
        ? `${row.tokenRequests} requests for ${row.ideal} keys, ${row.failed ?? 0} failed`
        : (row.error ?? 'not measured'),
      status: status(
        measured ? (row.tokenRequests as number) <= 1.1 * row.ideal && row.failed === 0 : undefined,
      ),
    });
    out.push({
      target: `${label}: steady-state Redis commands per getToken() <= 0.1`,
      measured: fmtPerCall(row.steadyCommandsPerCall),
      status: status(row.steadyCommandsPerCall === undefined ? undefined : row.steadyCommandsPerCall <= 0.1),
    });
  }
  if (r.fleet?.skipped) {
    out.push({ target: 'figure 7 (fleet)', measured: r.fleet.skipped, status: 'n/a' });
  }

  for (const row of r.uncached ?? []) {
    if (row.ratio === undefined) continue;
    out.push({
      target: `uncached token requests/s, ${row.auth}: >= openid-client's grant (${row.comparedWith})`,
      measured: fmtRatio(row.ratio),
      status: status(row.ratio >= 1),
    });
  }
  if (!(r.uncached ?? []).some((u) => u.ratio !== undefined)) {
    out.push({
      target: "uncached token requests/s >= openid-client's grant",
      measured: 'not measured',
      status: 'n/a',
    });
  }

  for (const row of r.memory ?? []) {
    const n = row.entries.toLocaleString('en-US');
    out.push({
      target: `<= 1 KiB per cached entry beyond the token bytes (MemoryTokenCache, ${n} entries)`,
      measured:
        row.cacheBytesPerEntry === undefined
          ? (row.error ?? 'not measured')
          : `${Math.round(row.cacheBytesPerEntry)} B`,
      status: status(row.cacheBytesPerEntry === undefined ? undefined : row.cacheBytesPerEntry <= 1024),
    });
    if (row.clientBytesPerEntry !== undefined) {
      out.push({
        target: `<= 1 KiB per cached entry beyond the token bytes (through the client, ${n} entries)`,
        measured: `${Math.round(row.clientBytesPerEntry)} B`,
        status: status(row.clientBytesPerEntry <= 1024),
      });
    }
  }
  return out;
}

function table(head: string[], rows: string[][]): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  return [
    `| ${head.map(esc).join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

export function toMarkdown(r: BenchResults, cfgText: { cold: string; audiences: string }): string {
  const m = r.meta;
  const parts: string[] = [];
  parts.push('# m2m-token benchmarks', '');
  parts.push(
    `Generated by \`npm run bench\`${m.mode === 'quick' ? ' -- --quick (tiny counts: not for comparison)' : ''} on ${m.date}` +
      (m.durationSeconds !== undefined ? ` in ${m.durationSeconds.toFixed(0)} s.` : '.'),
    '',
    `Machine: ${m.machine.cpu}, ${m.machine.cores} cores, ${m.machine.memoryGiB} GiB, ${m.machine.platform}, Node.js ${m.machine.node}.`,
    '',
    `Versions: ${Object.entries(m.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    '',
    'Servers: a local token endpoint and protected resource on 127.0.0.1 in a separate process ' +
      '(HS256 JWT access tokens, expires_in 3600). Ratios above 1 mean faster than the baseline. ' +
      'See docs/benchmarks.md for the method.',
    '',
  );

  if (r.cached) {
    parts.push('## 1. Cached getToken()', '');
    parts.push(
      'Sequential calls on a warm cache, in short slices taken round-robin over all libraries (order reversed ' +
        'each round); calls/s is the median over rounds, "vs bare Map" the median of per-round ratios. ' +
        'p50/p99 are per-call averages of timed batches (batches of about 20 µs).',
      '',
    );
    parts.push(
      table(
        ['library', 'call', 'calls/s', 'p50', 'p99', 'vs bare Map'],
        r.cached.map((c) =>
          c.error
            ? [c.peer, c.variant, `error: ${c.error}`, '', '', '']
            : [c.peer, c.variant, fmtRate(c.callsPerSec), fmtNs(c.p50Ns), fmtNs(c.p99Ns), fmtRatio(c.vsMap)],
        ),
      ),
      '',
    );
  }

  const coldTable = (title: string, rows: ColdRow[]) => {
    parts.push(title, '');
    parts.push(
      table(
        ['library', 'calls', 'token requests', 'ideal', 'wall time', 'failed calls'],
        rows.map((c) =>
          c.error
            ? [c.peer, String(c.calls), `error: ${c.error}`, String(c.distinctKeys), '', '']
            : [
                c.peer,
                c.calls.toLocaleString('en-US'),
                (c.tokenRequests ?? 0).toLocaleString('en-US'),
                String(c.distinctKeys),
                fmtMs(c.wallMs),
                String(c.errors ?? 0),
              ],
        ),
      ),
      '',
    );
  };
  if (r.coldOneAudience) coldTable(`## 2. ${cfgText.cold}`, r.coldOneAudience);
  if (r.coldAudiences) coldTable(`## 3. ${cfgText.audiences}`, r.coldAudiences);

  if (r.fetch) {
    parts.push('## 4. Fetch wrapper vs fetch with a static Authorization header', '');
    parts.push(
      'Requests to the protected resource (body read). Ratio: median over interleaved slice pairs of ' +
        "wrapper rate / plain fetch rate (the target). CPU: this process's CPU time per request (the servers " +
        'run in another process), wrapper and plain, and the median per-pair ratio; it is steadier than the ' +
        'rates on a loaded machine.',
      '',
    );
    const us = (n: number | undefined) =>
      n === undefined || !Number.isFinite(n) ? 'n/a' : `${n.toFixed(1)} µs`;
    parts.push(
      table(
        [
          'library',
          'concurrency',
          'wrapper req/s',
          'plain fetch req/s',
          'ratio',
          'range over pairs',
          'CPU/req wrapper vs plain',
          'CPU ratio',
        ],
        r.fetch.map((f) =>
          f.ratio === undefined
            ? [
                f.peer,
                f.concurrency > 0 ? String(f.concurrency) : 'n/a',
                `error: ${f.error ?? 'n/a'}`,
                '',
                '',
                '',
                '',
                '',
              ]
            : [
                f.peer,
                String(f.concurrency),
                fmtRate(f.wrapperPerSec),
                fmtRate(f.plainPerSec),
                fmtRatio(f.ratio),
                `${fmtRatio(f.minRatio)} to ${fmtRatio(f.maxRatio)}${f.error ? ` (${f.error})` : ''}`,
                `${us(f.wrapperCpuUs)} vs ${us(f.plainCpuUs)}`,
                fmtRatio(f.cpuRatio),
              ],
        ),
      ),
      '',
    );
  }

  if (r.uncached) {
    parts.push('## 5. Uncached token requests per client authentication method', '');
    parts.push(
      'Each worker has its own client with caching off; m2m-token vs openid-client `clientCredentialsGrant` ' +
        'in interleaved slices on the same server. Ratio: m2m-token rate / openid-client rate (the target). ' +
        "CPU: this process's CPU time per token request and the median per-pair ratio (m2m-token / " +
        'openid-client; below 1 means m2m-token costs less). "server saw" is the method the server ' +
        'recorded for m2m-token.',
      '',
    );
    const us5 = (n: number | undefined) =>
      n === undefined || !Number.isFinite(n) ? 'n/a' : `${n.toFixed(0)} µs`;
    parts.push(
      table(
        [
          'method',
          'm2m-token req/s',
          'openid-client req/s',
          'compared with',
          'ratio',
          'CPU/req m2m-token vs openid-client',
          'CPU ratio',
          'server saw',
        ],
        r.uncached.map((u) => [
          u.auth,
          fmtRate(u.m2mPerSec),
          fmtRate(u.openidPerSec),
          u.comparedWith ?? 'n/a',
          fmtRatio(u.ratio),
          `${us5(u.m2mCpuUs)} vs ${us5(u.openidCpuUs)}`,
          fmtRatio(u.cpuRatio),
          `${u.serverSaw ?? 'n/a'}${u.error ? ` (error: ${u.error})` : ''}`,
        ]),
      ),
      '',
    );
  }
  if (r.signing) {
    parts.push('### Client assertion signing cost (jose SignJWT, one assertion)', '');
    parts.push(
      table(
        ['alg', 'signs/s', 'µs per sign'],
        r.signing.map((s) =>
          s.error
            ? [s.alg, `error: ${s.error}`, '']
            : [s.alg, fmtRate(s.signsPerSec), (s.usPerSign ?? 0).toFixed(1)],
        ),
      ),
      '',
    );
  }

  if (r.memory) {
    parts.push('## 6. Memory per cached entry (MemoryTokenCache)', '');
    parts.push(
      'Heap delta after full GCs, per entry, minus the heap size of the access token string itself ' +
        '(a 753-character JWT). "MemoryTokenCache": entries built as the client builds them and stored ' +
        'directly. "Through the client": getToken() for N audiences with an in-memory fetch, so everything ' +
        'the client keeps per key counts.',
      '',
    );
    const bytes = (n: number | undefined) => (n === undefined ? 'n/a' : String(Math.round(n)));
    parts.push(
      table(
        ['entries', 'MemoryTokenCache bytes/entry', 'through the client bytes/entry', 'token string bytes'],
        r.memory.map((mm) => [
          mm.entries.toLocaleString('en-US'),
          mm.error && mm.cacheBytesPerEntry === undefined
            ? `error: ${mm.error}`
            : bytes(mm.cacheBytesPerEntry),
          mm.error && mm.cacheBytesPerEntry !== undefined
            ? `error: ${mm.error}`
            : bytes(mm.clientBytesPerEntry),
          mm.tokenStringBytes === undefined
            ? 'n/a'
            : `${Math.round(mm.tokenStringBytes)} (length ${mm.tokenLength})`,
        ]),
      ),
      '',
    );
  }

  if (r.fleet) {
    const x = r.fleet;
    parts.push('## 7. Fleet: a shared RedisTokenCache at scale (optional)', '');
    if (x.skipped) parts.push(`Skipped: ${x.skipped}.`, '');
    else {
      parts.push(
        'All calls of a row at once on cold caches, then the same calls in steady-state rounds (the local ' +
          'layer). "ideal" is one token request per audience; Redis commands are counted as the clients ' +
          'send them (each one round trip).',
        '',
        table(
          [
            'fleet',
            'calls',
            'token requests',
            'ideal',
            'wall time (cold)',
            'Redis cmds/call cold',
            'Redis cmds/call steady',
            'p99 cold',
            'p99 steady',
            'failed calls',
            'cache faults',
          ],
          x.rows.map((row) => [
            fleetLabel(row),
            row.calls?.toLocaleString('en-US') ?? 'n/a',
            row.tokenRequests?.toLocaleString('en-US') ?? 'n/a',
            String(row.ideal),
            fmtMs(row.wallMs),
            fmtPerCall(row.coldCommandsPerCall),
            fmtPerCall(row.steadyCommandsPerCall),
            fmtMs(row.p99Ms),
            fmtMs(row.steadyP99Ms),
            `${row.failed ?? 'n/a'}${row.error ? ` (${row.error})` : ''}`,
            row.faults
              ? `${row.faults} (${Object.keys(row.faultKinds ?? {}).join(', ')})`
              : String(row.faults ?? 'n/a'),
          ]),
        ),
        '',
      );
      const slow = x.slowRedis;
      if (slow) {
        parts.push(
          `A miss through a Redis that answers ${slow.replyDelayMs} ms late (a loopback proxy delaying every ` +
            `reply), ${slow.misses} misses one after another: ` +
            (slow.error
              ? `error: ${slow.error}.`
              : `p50 ${fmtMs(slow.p50Ms)}, p99 ${fmtMs(slow.p99Ms)}, ${slow.roundTripsPerMiss?.toFixed(1)} Redis ` +
                'round trips per miss (the store and release included; at most two come before the token request).'),
          '',
        );
      }
    }
  }

  if (r.coldStart) {
    const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
    const processes = Math.max(...r.coldStart.map((row) => row.processes));
    parts.push('## 8. Cold start: import, first token, worker bundle size', '');
    parts.push(
      `Each library in ${processes} fresh Node processes, run in rounds side by side (order reversed each round): ` +
        '`await import()` of the library, then import plus its first token (client_secret_basic, the server answering ' +
        'at once). m2m-token as published (dist/). Medians; "vs openid-client" is the median of the per-round ratios of ' +
        'import times. Worker bundle: the whole entry bundled with `esbuild --bundle --platform=browser ' +
        '--conditions=workerd,worker,browser`, minified (gzip -9).',
      '',
      table(
        [
          'library',
          'import',
          'import + first token',
          'import vs openid-client',
          'worker bundle (min / gzip)',
        ],
        r.coldStart.map((row) => [
          row.peer,
          row.importMs === undefined ? (row.error ?? 'n/a') : `${row.importMs.toFixed(1)} ms`,
          row.firstTokenMs === undefined ? 'n/a' : `${row.firstTokenMs.toFixed(1)} ms`,
          fmtRatio(row.importVsOpenidClient),
          row.bundle === undefined
            ? 'n/a'
            : 'error' in row.bundle
              ? row.bundle.error
              : `${kb(row.bundle.bytes)} / ${kb(row.bundle.gzipBytes)}`,
        ]),
      ),
      '',
    );
  }

  if (r.targets) {
    parts.push('## Targets (informational)', '');
    parts.push(
      table(
        ['target', 'measured', 'status'],
        r.targets.map((t) => [t.target, t.measured, t.status]),
      ),
      '',
    );
  }
  if (r.notes.length > 0) {
    parts.push('## Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  }
  return parts.join('\n');
}
