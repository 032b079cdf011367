/**
 * Counts and time slices. Full: about 80 s on 2 cores (measured with other jobs running). Quick
 * (`--quick`, run in CI): about 10 s; tiny counts, three authentication methods, memory at 5,000
 * entries only, no Redis. Every loop has a count cap and a time cap.
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
  redis: { enabled: boolean; processes: number; audiences: number; latencyMs: number; deadlineMs: number };
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
  redis: { enabled: true, processes: 8, audiences: 20, latencyMs: 20, deadlineMs: 30_000 },
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
  redis: { enabled: false, processes: 8, audiences: 20, latencyMs: 20, deadlineMs: 10_000 },
  coldStart: { rounds: 3, build: false },
};
