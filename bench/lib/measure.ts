/** Timing helpers. Every loop here is bounded by a count and by a deadline. */

export const nowNs = (): bigint => process.hrtime.bigint();
const NS_PER_MS = 1_000_000n;

export interface CallRate {
  calls: number;
  seconds: number;
  callsPerSec: number;
  /** per-call latency in ns, from batch averages */
  p50Ns: number;
  p99Ns: number;
  batches: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

export function median(values: number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

export interface TimedSlice {
  calls: number;
  ns: number;
  /** per-call average of each batch, ns */
  samples: number[];
}

/**
 * Sequential calls in timed batches until the slice's time or call budget is spent. Latency is the
 * per-call average of each batch: timing every call would cost more than a cached lookup.
 */
export async function timedSlice(
  fn: () => Promise<unknown>,
  opts: { batchSize: number; sliceMs: number; maxCalls: number },
): Promise<TimedSlice> {
  const samples: number[] = [];
  let calls = 0;
  const start = nowNs();
  const deadline = start + BigInt(opts.sliceMs) * NS_PER_MS;
  let t = start;
  while (calls < opts.maxCalls && t < deadline) {
    const t0 = nowNs();
    for (let i = 0; i < opts.batchSize; i++) await fn();
    t = nowNs();
    calls += opts.batchSize;
    samples.push(Number(t - t0) / opts.batchSize);
  }
  return { calls, ns: Number(t - start), samples };
}

/**
 * Warms fn up (bounded by count and time) and returns a batch size that makes one batch last about
 * `targetBatchNs`, between 1 and 256 calls.
 */
export async function warmAndCalibrate(
  fn: () => Promise<unknown>,
  opts: { warmupCalls: number; warmupMs: number; targetBatchNs?: number },
): Promise<number> {
  const start = nowNs();
  const deadline = start + BigInt(Math.max(1, opts.warmupMs)) * NS_PER_MS;
  let calls = 0;
  while (calls < opts.warmupCalls && nowNs() < deadline) {
    await fn();
    calls++;
  }
  const perCall = Number(nowNs() - start) / Math.max(1, calls);
  return Math.max(1, Math.min(256, Math.round((opts.targetBatchNs ?? 20_000) / perCall)));
}

/** Sequential calls: warm-up, then one timed slice; throughput and batch-latency percentiles. */
export async function measureSequential(
  fn: () => Promise<unknown>,
  opts: { maxCalls: number; maxMs: number; batchSize: number; warmupCalls: number },
): Promise<CallRate> {
  await warmAndCalibrate(fn, {
    warmupCalls: opts.warmupCalls,
    warmupMs: Math.max(1, Math.floor(opts.maxMs / 5)),
  });
  const r = await timedSlice(fn, { batchSize: opts.batchSize, sliceMs: opts.maxMs, maxCalls: opts.maxCalls });
  const seconds = r.ns / 1e9;
  r.samples.sort((a, b) => a - b);
  return {
    calls: r.calls,
    seconds,
    callsPerSec: r.calls / seconds,
    p50Ns: percentile(r.samples, 50),
    p99Ns: percentile(r.samples, 99),
    batches: r.samples.length,
  };
}

export interface Slice {
  ops: number;
  ns: number;
  /** CPU time of this process (user + system) during the slice, µs */
  cpuUs: number;
  errors: number;
}

/** `concurrency` workers (numbered from 0) call fn in a loop until the slice's time or operation budget is spent. */
export async function runSlice(
  fn: (worker: number) => Promise<unknown>,
  opts: { concurrency: number; sliceMs: number; maxOps: number },
): Promise<Slice> {
  let ops = 0;
  let errors = 0;
  const cpu0 = process.cpuUsage();
  const start = nowNs();
  const deadline = start + BigInt(opts.sliceMs) * NS_PER_MS;
  const worker = async (_: unknown, index: number) => {
    while (ops < opts.maxOps && nowNs() < deadline) {
      try {
        await fn(index);
        ops++;
      } catch {
        errors++;
        if (errors > 100) return;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const ns = Number(nowNs() - start);
  const cpu = process.cpuUsage(cpu0);
  return { ops, ns, cpuUs: cpu.user + cpu.system, errors };
}

export interface PairedRatio {
  /** median over pairs of rate(B) / rate(A) */
  ratio: number;
  minRatio: number;
  maxRatio: number;
  aPerSec: number;
  bPerSec: number;
  /** this process's CPU per operation, µs (the servers run in another process) */
  aCpuUsPerOp: number;
  bCpuUsPerOp: number;
  /** median over pairs of CPU per op of B / CPU per op of A: what B costs the client, 1 = the same */
  cpuRatio: number;
  pairs: number;
  errors: number;
}

/**
 * Alternating short slices of A and B (A B, B A, A B, ...) so that drift (thermal, GC, other load
 * on the machine) hits both sides alike; the ratio is taken pair by pair and the median reported.
 */
export async function pairedRatio(
  a: (worker: number) => Promise<unknown>,
  b: (worker: number) => Promise<unknown>,
  opts: { pairs: number; sliceMs: number; concurrency: number; maxOpsPerSlice: number; warmupMs: number },
): Promise<PairedRatio> {
  const sliceOpts = { concurrency: opts.concurrency, sliceMs: opts.sliceMs, maxOps: opts.maxOpsPerSlice };
  await runSlice(a, { ...sliceOpts, sliceMs: opts.warmupMs });
  await runSlice(b, { ...sliceOpts, sliceMs: opts.warmupMs });
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  let aCpu = 0;
  let bCpu = 0;
  let aOps = 0;
  let aNs = 0;
  let bOps = 0;
  let bNs = 0;
  let errors = 0;
  for (let i = 0; i < opts.pairs; i++) {
    let sa: Slice;
    let sb: Slice;
    if (i % 2 === 0) {
      sa = await runSlice(a, sliceOpts);
      sb = await runSlice(b, sliceOpts);
    } else {
      sb = await runSlice(b, sliceOpts);
      sa = await runSlice(a, sliceOpts);
    }
    aOps += sa.ops;
    aNs += sa.ns;
    bOps += sb.ops;
    bNs += sb.ns;
    aCpu += sa.cpuUs;
    bCpu += sb.cpuUs;
    errors += sa.errors + sb.errors;
    if (sa.ops > 0 && sb.ops > 0) {
      ratios.push(sb.ops / sb.ns / (sa.ops / sa.ns));
      if (sa.cpuUs > 0) cpuRatios.push(sb.cpuUs / sb.ops / (sa.cpuUs / sa.ops));
    }
  }
  return {
    ratio: ratios.length > 0 ? median(ratios) : Number.NaN,
    minRatio: ratios.length > 0 ? Math.min(...ratios) : Number.NaN,
    maxRatio: ratios.length > 0 ? Math.max(...ratios) : Number.NaN,
    aPerSec: aNs > 0 ? aOps / (aNs / 1e9) : Number.NaN,
    bPerSec: bNs > 0 ? bOps / (bNs / 1e9) : Number.NaN,
    aCpuUsPerOp: aOps > 0 ? aCpu / aOps : Number.NaN,
    bCpuUsPerOp: bOps > 0 ? bCpu / bOps : Number.NaN,
    cpuRatio: cpuRatios.length > 0 ? median(cpuRatios) : Number.NaN,
    pairs: opts.pairs,
    errors,
  };
}

export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not finish within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/** Races a step against a deadline, so one stuck peer cannot hang the run. */
export async function withDeadline<T>(what: string, ms: number, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
