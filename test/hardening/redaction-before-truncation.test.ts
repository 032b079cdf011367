/**
 * Issue 12.6: redaction before truncation. The server text shown in errors is cut (`error` at 200
 * characters, `error_description` and `error_uri` at 1000, `token_type` at 40, `bodySnippet` at 200 of a
 * body scrubbed whole) only after it was redacted, so a credential echoed across a cut leaves no piece.
 *
 * Measured before the fix: the first 24 characters of a 37-character secret echoed across the cut
 * appeared in OAuthError message/errorDescription, HttpError bodySnippet and token_request_failure
 * events. Checked here: no 12-character run of the secret, of the client assertion or of the access
 * token, anywhere (error, its causes, events, CLI output), for each cut and several offsets across it.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AuthMethod,
  ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  M2MTokenError,
  type TokenEvent,
} from '../../src/index.js';
import { runCli } from '../helpers/cli-run.js';
import { testClient } from '../helpers/clients.js';
import { exposures, leakedRuns } from '../helpers/leaks.js';
import {
  type Answer,
  type LoopbackServer,
  type ReceivedRequest,
  startLoopbackServer,
} from '../helpers/loopback-server.js';
import { rejectionOf } from '../helpers/outcomes.js';

/** 37 characters, as in the issue. */
const SECRET = 'Cut-Secret_0123456789-abcdefghijk.XYZ';
const ACCESS_TOKEN = 'CutAccessToken-0123456789-abcdefghij-XYZ';
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const KEY_PEM = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;

let server: LoopbackServer;
beforeAll(async () => {
  server = await startLoopbackServer();
});
afterAll(() => server.close());

/** `echo` placed so that it starts `before` characters ahead of the cut at `cut`. */
function across(cut: number, before: number, echo: string): string {
  return `${'x'.repeat(Math.max(0, cut - before))}${echo}${'y'.repeat(40)}`;
}

const json = (status: number, body: unknown): Answer => ({
  status,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

type CutAnswer = (echo: string, before: number, members?: Record<string, unknown>) => Answer;

/**
 * Each cut: an answer built around the echoed value. `members` are added to JSON bodies (the access
 * token of the answer, for the token case).
 */
const CUTS: ReadonlyArray<readonly [string, CutAnswer, { json: boolean }]> = [
  ['error (200)', (echo, before, m) => json(400, { ...m, error: across(200, before, echo) }), { json: true }],
  [
    'error_description (1000)',
    (echo, before, m) =>
      json(401, { ...m, error: 'invalid_client', error_description: across(1000, before, echo) }),
    { json: true },
  ],
  [
    'error_uri (1000)',
    (echo, before, m) =>
      json(400, {
        ...m,
        error: 'invalid_request',
        error_uri: `https://e.test/${across(1000, before, echo)}`,
      }),
    { json: true },
  ],
  [
    'bodySnippet of an HTML page (200)',
    (echo, before) => ({
      status: 502,
      headers: { 'content-type': 'text/html' },
      body: across(200, before, echo),
    }),
    { json: false },
  ],
  [
    'bodySnippet at the old 4096 read cut',
    (echo, before) => ({
      status: 502,
      headers: { 'content-type': 'text/html' },
      body: across(4096, before, echo),
    }),
    { json: false },
  ],
  [
    'bodySnippet of a JSON body (200)',
    (echo, before, m) => json(500, { ...m, message: across(190, before, echo) }),
    { json: true },
  ],
  [
    'token_type (40)',
    (echo, before) => json(200, { access_token: ACCESS_TOKEN, token_type: across(40, before, echo) }),
    { json: true },
  ],
];

/** Offsets of the echo's start ahead of the cut: the cut falls after 1, 12, 18, 24 and 36 characters. */
const OFFSETS = [1, 12, 18, 24, 36];

function credentials(method: AuthMethod): Partial<ClientCredentialsClientOptions> {
  return method === 'private_key_jwt'
    ? { authMethod: method, privateKey: KEY_PEM }
    : { authMethod: method, clientSecret: SECRET };
}

let clients = 0;
function client(method: AuthMethod, events: TokenEvent[]) {
  return testClient({
    tokenEndpoint: `${server.origin}/token-${++clients}`,
    clientId: 'cut-client',
    cache: false,
    onEvent: (e) => events.push(e),
    ...credentials(method),
  });
}

function assertionOf(request: ReceivedRequest): string {
  return new URLSearchParams(request.body).get('client_assertion') ?? '';
}

/** What one answer led to: the echoed value and everything the error and events show. */
interface Outcome {
  readonly echoed: string;
  readonly shown: string;
}

/** Runs every cut at every offset; `echoOf` picks what the server echoes from the request it got. */
async function everyCut(
  method: AuthMethod,
  echoOf: (request: ReceivedRequest) => string,
  members?: Record<string, unknown>,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const [, answer, kind] of CUTS) {
    if (members && !kind.json) continue;
    for (const before of OFFSETS) {
      let echoed = '';
      server.answer((request) => {
        echoed = echoOf(request);
        return answer(echoed, before, members);
      });
      const events: TokenEvent[] = [];
      const error = await rejectionOf(client(method, events).getToken());
      expect(error).toBeInstanceOf(M2MTokenError);
      outcomes.push({ echoed, shown: `${exposures(error)}\n${JSON.stringify(events)}` });
    }
  }
  return outcomes;
}

describe('a credential echoed across each cut leaves no 12-character run', () => {
  it.each(['client_secret_basic', 'client_secret_post', 'client_secret_json'] as const)(
    'the 37-character secret (%s)',
    async (method) => {
      for (const { shown } of await everyCut(method, () => SECRET)) {
        expect(leakedRuns(shown, SECRET)).toEqual([]);
      }
    },
  );

  it('the secret, form-encoded as sent in a body', async () => {
    const encoded = new URLSearchParams({ s: `${SECRET} +/=&` }).toString().slice(2);
    const c = (events: TokenEvent[]) =>
      new ClientCredentialsClient({
        tokenEndpoint: `${server.origin}/token-${++clients}`,
        clientId: 'cut-client',
        clientSecret: `${SECRET} +/=&`,
        authMethod: 'client_secret_post',
        retry: false,
        onEvent: (e) => events.push(e),
      });
    for (const [, answer] of CUTS) {
      server.answer(() => answer(encoded, 20));
      const events: TokenEvent[] = [];
      const error = await rejectionOf(c(events).getToken());
      expect(leakedRuns(`${exposures(error)}\n${JSON.stringify(events)}`, SECRET)).toEqual([]);
    }
  });

  it.each(['private_key_jwt', 'client_secret_jwt'] as const)('the client assertion (%s)', async (method) => {
    const outcomes = await everyCut(method, assertionOf);
    expect(outcomes).toHaveLength(CUTS.length * OFFSETS.length);
    // Each assertion is new (a new jti), so it can only show up in what its own request led to.
    for (const { echoed, shown } of outcomes) {
      expect(echoed.length).toBeGreaterThan(100);
      expect(leakedRuns(shown, echoed)).toEqual([]);
    }
  });

  it('the access token the answer carries, echoed in its other members', async () => {
    const outcomes = await everyCut('client_secret_basic', () => ACCESS_TOKEN, {
      access_token: ACCESS_TOKEN,
    });
    for (const { shown } of outcomes) expect(leakedRuns(shown, ACCESS_TOKEN)).toEqual([]);
  });

  it('in the CLI output (with --verbose), for every cut', async () => {
    for (const [, answer] of CUTS) {
      server.answer(() => answer(SECRET, 18));
      const result = await runCli(
        // No retries: a 5xx would otherwise be asked again after a real backoff.
        [
          'token',
          '--token-endpoint',
          `${server.origin}/cli`,
          '--client-id',
          'cut-cli',
          '--verbose',
          '--retry',
          '0',
        ],
        { env: { M2M_CLIENT_SECRET: SECRET } },
      );
      expect(result.code).toBe(1);
      expect(leakedRuns(`${result.stdout}\n${result.stderr}`, SECRET)).toEqual([]);
    }
  });
});

describe('the scrubbing is linear', () => {
  it('a hostile 256 KiB body of JWT-like and credential-like runs is refused without stalling', async () => {
    const hostile = `${'eyJ'.repeat(30_000)}${'Bearer '.repeat(10_000)}${'"token"    '.repeat(5_000)}`;
    server.answer(() => ({ status: 502, body: hostile.slice(0, 250_000) }));
    const error = await rejectionOf(client('client_secret_basic', []).getToken());
    expect(error).toMatchObject({ name: 'HttpError', status: 502 });
  });
});
