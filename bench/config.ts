/**
 * Counts and time slices. Full: about 80 s on 2 cores (measured with other jobs running). Quick
 * (`--quick`, run in CI): about 10 s; tiny counts, three authentication methods, memory at 5,000
 * entries only, no Redis. The fleet figure (7) adds about 3 minutes to a full run. Every loop has a count cap and a time cap.
 */
export interface BenchConfig {
  quick: boolean;
  cached: {
    rounds: number;
    sliceMs: number;
    maxCallsPerSlice: number;
    warmupCalls: number;
    warmupMs: number;
  };
  cold: { concurrent: number; audiences: number; perAudience: number; latencyMs: number; deadlineMs: number };
  fetch: { concurrency: number[]; pairs: number; sliceMs: number; warmupMs: number; maxOpsPerSlice: number };
  /** methods: the client authentication cases to run (labels from figures.authCases) */
  uncached: { concurrency: number; pairs: number; sliceMs: number; warmupMs: number; methods?: string[] };
  signing: { maxMs: number; maxOps: number };
  /** clientSizes: sizes also measured through ClientCredentialsClient.getToken (slower) */
  memory: { sizes: number[]; clientSizes: number[]; deadlineMs: number };
  /**
   * Figure 7, fleets sharing a RedisTokenCache: in-process rows [replicas, audiences]; process rows (each
   * size with each number of CPU burners) asking perAudience times for each of `audiences`; the steady
   * phase (the same calls every steadyIntervalMs for steadyMs); misses through a Redis answering
   * replyDelayMs late. deadlineMs bounds each in-process row.
   */
  fleet: {
    enabled: boolean;
    inProcess: [replicas: number, audiences: number][];
    processes: number[];
    burners: number[];
    audiences: number;
    perAudience: number;
    steadyMs: number;
    steadyIntervalMs: number;
    latencyMs: number;
    slowRedis: { replyDelayMs: number; misses: number };
    deadlineMs: number;
  };
  /** figure 8: fresh processes per library; build: rebuild dist/ first */
  coldStart: { rounds: number; build: boolean };
}

export const FULL: BenchConfig = {
  quick: false,
  cached: { rounds: 8, sliceMs: 100, maxCallsPerSlice: 2_000_000, warmupCalls: 100_000, warmupMs: 200 },
  cold: { concurrent: 1000, audiences: 100, perAudience: 10, latencyMs: 20, deadlineMs: 30_000 },
  fetch: { concurrency: [1, 32], pairs: 16, sliceMs: 80, warmupMs: 200, maxOpsPerSlice: 200_000 },
  uncached: { concurrency: 4, pairs: 6, sliceMs: 100, warmupMs: 100 },
  signing: { maxMs: 300, maxOps: 100_000 },
  memory: { sizes: [10_000, 100_000], clientSizes: [10_000], deadlineMs: 60_000 },
  fleet: {
    enabled: true,
    inProcess: [
      [50, 50],
      [200, 50],
      [1000, 20],
    ],
    processes: [8, 16],
    burners: [0, 2],
    audiences: 20,
    perAudience: 5,
    // Every replica asks for every audience 4 times a second for 6 s: longer than the local layer's 5 s, so
    // each replica re-reads each key about once.
    steadyMs: 6_000,
    steadyIntervalMs: 250,
    latencyMs: 20,
    slowRedis: { replyDelayMs: 200, misses: 10 },
    deadlineMs: 180_000,
  },
  coldStart: { rounds: 15, build: true },
};

export const QUICK: BenchConfig = {
  quick: true,
  cached: { rounds: 3, sliceMs: 30, maxCallsPerSlice: 500_000, warmupCalls: 10_000, warmupMs: 40 },
  cold: { concurrent: 50, audiences: 5, perAudience: 10, latencyMs: 20, deadlineMs: 10_000 },
  fetch: { concurrency: [1, 32], pairs: 2, sliceMs: 40, warmupMs: 30, maxOpsPerSlice: 20_000 },
  uncached: {
    concurrency: 4,
    pairs: 2,
    sliceMs: 40,
    warmupMs: 20,
    methods: ['client_secret_basic', 'client_secret_json', 'private_key_jwt ES256'],
  },
  signing: { maxMs: 60, maxOps: 5_000 },
  memory: { sizes: [5_000], clientSizes: [], deadlineMs: 20_000 },
  fleet: {
    enabled: false,
    inProcess: [[20, 5]],
    processes: [],
    burners: [0],
    audiences: 5,
    perAudience: 2,
    steadyMs: 200,
    steadyIntervalMs: 50,
    latencyMs: 20,
    slowRedis: { replyDelayMs: 200, misses: 2 },
    deadlineMs: 30_000,
  },
  coldStart: { rounds: 3, build: false },
};
