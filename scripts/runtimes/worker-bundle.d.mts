export interface WorkerBundle {
  readonly code: string;
  readonly inputs: string[];
  readonly bytes: number;
  readonly gzipBytes: number;
  /** Node-only modules bundled and literal imports of them; empty when the bundle is fine. */
  readonly problems: string[];
}
export declare const WORKER_BUNDLE_OPTIONS: Readonly<Record<string, unknown>>;
export declare function bundleForWorkers(
  entry: string | { contents: string; resolveDir: string },
  options?: { minify?: boolean },
): Promise<WorkerBundle>;
