/**
 * The interop matrix: what m2m-token does against each authorization server the tests start on
 * loopback. One source for two things that must never disagree:
 *
 *   - the tests: test/interop-<server>.test.ts register one test per cell through registerMatrix()
 *     (test/interop/suite.ts). A cell that says "works" must get a verified token (or the behaviour it
 *     names); a cell that says "unsupported" must end in the typed error a user would see. Change a
 *     cell and its test changes with it;
 *   - the README's "Tested against" table: renderTable() below, written by `npm run interop-table` and
 *     compared with the README by test/interop-readme.test.ts.
 *
 * Notes are short; docs/providers.md has the settings behind them.
 */

export const SERVERS = ['oidc-provider', 'node-oauth2-server', 'oauth2-mock-server', 'glewlwyd'] as const;
export type ServerId = (typeof SERVERS)[number];

export const FEATURES = [
  { id: 'basic', label: 'client_secret_basic' },
  { id: 'basic-reserved', label: 'client_secret_basic, secret with `+ / = : %`' },
  { id: 'post', label: 'client_secret_post' },
  { id: 'json', label: 'JSON body (client_secret_json)' },
  { id: 'secret-jwt', label: 'client_secret_jwt' },
  { id: 'private-key-jwt', label: 'private_key_jwt (RS256, ES256, EdDSA)' },
  { id: 'dpop', label: 'DPoP (RFC 9449)' },
  { id: 'mtls', label: 'tls_client_auth (RFC 8705)' },
  { id: 'discovery', label: 'discovery from `issuer`' },
  { id: 'cache', label: 'cache: one token request for many calls' },
  { id: 'retry-401', label: 'API 401: one refresh, one retry' },
  { id: 'refused', label: 'wrong secret: typed error with a hint' },
] as const;
export type FeatureId = (typeof FEATURES)[number]['id'];

export interface Cell {
  /**
   * `works`: the server checks the credentials and the tests get a verified token (or the named
   * behaviour); `unchecked`: the server issues a token without checking the credentials (a mock);
   * `unsupported`: the server refuses, and the tests check the typed error a user then sees.
   */
  readonly status: 'works' | 'unchecked' | 'unsupported';
  /** Shown after the mark; keep it to a few words. */
  readonly note?: string;
}

export interface ServerColumn {
  /** As shown in the table header. */
  readonly name: string;
  /** The version tested (major, or major.minor); each server's test file checks the installed one. */
  readonly version: string;
  readonly cells: { readonly [F in FeatureId]: Cell };
}

const works = (note?: string): Cell => (note ? { status: 'works', note } : { status: 'works' });
const unchecked = (note?: string): Cell => (note ? { status: 'unchecked', note } : { status: 'unchecked' });
const unsupported = (note?: string): Cell =>
  note ? { status: 'unsupported', note } : { status: 'unsupported' };

export const MATRIX: { readonly [S in ServerId]: ServerColumn } = {
  'oidc-provider': {
    name: 'oidc-provider',
    version: '9',
    cells: {
      basic: works(),
      'basic-reserved': works('decodes as RFC 6749 asks'),
      post: works(),
      json: unsupported('400 invalid_request'),
      'secret-jwt': works(),
      'private-key-jwt': works(),
      dpop: works('with nonce'),
      mtls: works('certificate-bound token'),
      discovery: works(),
      cache: works(),
      'retry-401': works(),
      refused: works('401 invalid_client'),
    },
  },
  'node-oauth2-server': {
    name: '@node-oauth/oauth2-server',
    version: '5',
    cells: {
      basic: works(),
      'basic-reserved': works('raw Basic, auto-detected'),
      post: works(),
      json: unsupported('400 invalid_request'),
      'secret-jwt': unsupported('400 invalid_client'),
      'private-key-jwt': unsupported('400 invalid_client'),
      dpop: unsupported('issues Bearer: refused by the client'),
      mtls: unsupported('400 invalid_client'),
      discovery: unsupported('no metadata document'),
      cache: works(),
      'retry-401': works('token revoked in its model'),
      refused: works('401 invalid_client'),
    },
  },
  'oauth2-mock-server': {
    name: 'oauth2-mock-server',
    version: '9',
    cells: {
      basic: unchecked(),
      'basic-reserved': unchecked(),
      post: unchecked(),
      json: unchecked(),
      'secret-jwt': unchecked(),
      'private-key-jwt': unchecked(),
      dpop: unsupported('issues Bearer: refused by the client'),
      mtls: unchecked('token not bound'),
      discovery: works('with `authMethod` set'),
      cache: works(),
      'retry-401': works(),
      refused: works('error from its beforeResponse hook'),
    },
  },
  glewlwyd: {
    name: 'Glewlwyd',
    version: '2.7',
    cells: {
      basic: works(),
      'basic-reserved': works('raw Basic, auto-detected'),
      post: works(),
      json: unsupported('400, empty body'),
      'secret-jwt': works('`aud` = token endpoint'),
      'private-key-jwt': works('`aud` = token endpoint, `kid`'),
      dpop: works('with nonce'),
      mtls: works('certificate-bound token'),
      discovery: works('OpenID Connect location'),
      cache: works(),
      'retry-401': works(),
      refused: works('empty 403'),
    },
  },
};

const SYMBOLS: { readonly [S in Cell['status']]: string } = { works: '✓', unchecked: '○', unsupported: '✗' };

function mark(cell: Cell): string {
  const symbol = SYMBOLS[cell.status];
  return cell.note ? `${symbol} ${cell.note}` : symbol;
}

/** The line under the table that says what the marks mean. */
export const LEGEND =
  '✓ works, checked against the server (tokens verified with its JWKS or its own token check); ' +
  '○ the server issues a token without checking the credentials (a mock); ' +
  '✗ not supported by the server: the test checks the typed error you get instead.';

/** The README's "Tested against" table (Markdown), rows = features, columns = servers. */
export function renderTable(): string {
  const header = `| | ${SERVERS.map((s) => `${MATRIX[s].name} ${MATRIX[s].version}`).join(' | ')} |`;
  const rule = `| --- | ${SERVERS.map(() => '---').join(' | ')} |`;
  const rows = FEATURES.map(
    (feature) =>
      `| ${feature.label} | ${SERVERS.map((s) => mark(MATRIX[s].cells[feature.id])).join(' | ')} |`,
  );
  return [header, rule, ...rows, '', LEGEND].join('\n');
}

/** Where the table lives in README.md. */
export const README_MARKERS = {
  start: '<!-- interop-table:start (generated by `npm run interop-table` from test/interop/matrix.ts) -->',
  end: '<!-- interop-table:end -->',
} as const;

/** README text with the table between the markers replaced by renderTable(); throws when they are missing. */
export function spliceTable(readme: string): string {
  const start = readme.indexOf(README_MARKERS.start);
  const end = readme.indexOf(README_MARKERS.end);
  if (start === -1 || end === -1 || end < start) {
    throw new Error(
      `README.md has no interop table markers (${README_MARKERS.start} ... ${README_MARKERS.end})`,
    );
  }
  return `${readme.slice(0, start + README_MARKERS.start.length)}\n${renderTable()}\n${readme.slice(end)}`;
}
