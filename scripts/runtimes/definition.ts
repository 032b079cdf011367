/**
 * The runtime matrix, declared once: which runtimes run, which features each is asked to do, and how.
 * The harness (matrix.ts) runs every cell and fails when a supported one fails; the README's and
 * docs/runtimes.md's tables are generated from this file (table.ts), so the documentation says
 * exactly what CI proves.
 */

export type RuntimeKind = 'node' | 'bun' | 'deno' | 'workerd';

export interface RuntimeSpec {
  readonly id: string;
  readonly label: string;
  readonly kind: RuntimeKind;
  /** The npm package that brings the runtime (installed by the harness into its cache). */
  readonly npmPackage: string;
  /** workerd only: the compatibility flags the worker runs with. */
  readonly compatibilityFlags?: readonly string[];
}

export const RUNTIMES: readonly RuntimeSpec[] = [
  { id: 'node20', label: 'Node 20.18.1', kind: 'node', npmPackage: 'node@20.18.1' },
  { id: 'node22', label: 'Node 22', kind: 'node', npmPackage: 'node@22' },
  { id: 'node24', label: 'Node 24', kind: 'node', npmPackage: 'node@24' },
  { id: 'bun', label: 'Bun', kind: 'bun', npmPackage: 'bun' },
  { id: 'deno', label: 'Deno', kind: 'deno', npmPackage: 'deno' },
  { id: 'workerd', label: 'Workers', kind: 'workerd', npmPackage: 'miniflare', compatibilityFlags: [] },
  {
    id: 'workerd-compat',
    label: 'Workers + nodejs_compat',
    kind: 'workerd',
    npmPackage: 'miniflare',
    compatibilityFlags: ['nodejs_compat'],
  },
];

export const FEATURES = [
  { id: 'import', label: '`import` (ESM)' },
  { id: 'require', label: '`require` (CommonJS)' },
  { id: 'client_secret_basic', label: 'client_secret_basic' },
  { id: 'client_secret_post', label: 'client_secret_post' },
  { id: 'client_secret_json', label: 'client_secret_json' },
  { id: 'client_secret_jwt', label: 'client_secret_jwt' },
  { id: 'private_key_jwt', label: 'private_key_jwt (PKCS#8 PEM, JWK)' },
  { id: 'tls_client_auth', label: 'tls_client_auth (mTLS)' },
  { id: 'discovery', label: 'discovery (`issuer`)' },
  { id: 'fetch', label: '`client.fetch()`' },
  { id: 'retry401', label: 'one retry after a 401' },
  { id: 'dpop', label: 'DPoP (`dpop: true`)' },
  { id: 'undici', label: '`m2m-token/undici`' },
  { id: 'redis', label: '`m2m-token/redis`' },
] as const;

export type FeatureId = (typeof FEATURES)[number]['id'];

/**
 * How a cell is run and shown:
 * - `yes`: works as documented in the guides; must pass.
 * - `how`: works when the user does what `note` says; the program does exactly that; must pass.
 * - `no`: not available there, for the reason in `note`. When `refused` is set, the program checks that
 *   the SDK refuses it clearly (a ConfigurationError at construction), and that must pass too.
 */
export type Cell =
  | { readonly mode: 'yes' }
  | { readonly mode: 'how'; readonly note: string }
  | { readonly mode: 'no'; readonly note: string; readonly refused?: boolean };

const yes: Cell = { mode: 'yes' };

const MTLS_BUN: Cell = {
  mode: 'how',
  note: "Bun's fetch ignores undici dispatchers: pass `fetch: (url, init) => fetch(url, { ...init, tls: { cert, key } })` with `certificate` and `privateKey`; with the built-in fetch the constructor throws a ConfigurationError that says so",
};
const MTLS_DENO: Cell = {
  mode: 'how',
  note: "Deno's fetch ignores undici dispatchers: pass `fetch` and `dispatcher` (`new Agent({ connect: { cert, key } })`) from `npm:undici`; with the built-in fetch the constructor throws a ConfigurationError that says so",
};
const MTLS_WORKERS: Cell = {
  mode: 'no',
  refused: true,
  note: "a Worker's fetch cannot present a client certificate of its own (Cloudflare's mTLS certificate bindings do that outside the SDK): the constructor throws a ConfigurationError",
};
const NO_REQUIRE_DENO: Cell = { mode: 'no', note: 'Deno runs ES modules (`import`)' };
const NO_REQUIRE_WORKERS: Cell = { mode: 'no', note: 'Workers run ES modules (`import`)' };
const NO_UNDICI_BUN: Cell = {
  mode: 'no',
  note: "Bun answers `import 'undici'` with its built-in module, which has no `Dispatcher.compose()`: use `client.fetch()`",
};
const NO_UNDICI_WORKERS: Cell = { mode: 'no', note: 'no undici on Workers: use `client.fetch()`' };
const NO_REDIS_WORKERS: Cell = {
  mode: 'no',
  note: 'no TCP client for node-redis or ioredis on Workers: use the memory cache or a `TokenCache` of your own',
};

const nodeCells: Record<FeatureId, Cell> = {
  import: yes,
  require: yes,
  client_secret_basic: yes,
  client_secret_post: yes,
  client_secret_json: yes,
  client_secret_jwt: yes,
  private_key_jwt: yes,
  tls_client_auth: yes,
  discovery: yes,
  fetch: yes,
  retry401: yes,
  dpop: yes,
  undici: yes,
  redis: yes,
};

const workerCells: Record<FeatureId, Cell> = {
  ...nodeCells,
  require: NO_REQUIRE_WORKERS,
  tls_client_auth: MTLS_WORKERS,
  undici: NO_UNDICI_WORKERS,
  redis: NO_REDIS_WORKERS,
};

export const CELLS: Readonly<Record<string, Readonly<Record<FeatureId, Cell>>>> = {
  node20: nodeCells,
  node22: nodeCells,
  node24: nodeCells,
  bun: { ...nodeCells, tls_client_auth: MTLS_BUN, undici: NO_UNDICI_BUN },
  deno: { ...nodeCells, require: NO_REQUIRE_DENO, tls_client_auth: MTLS_DENO },
  workerd: workerCells,
  'workerd-compat': workerCells,
};
