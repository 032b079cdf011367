/**
 * No 12-character run of a known credential anywhere: not only whole values. Redaction used to remove
 * a secret, assertion or token only when it appeared whole in one of five encodings, so a server
 * echoing a prefix, a piece, the secret split across two members, its lower-case percent-encoding, its
 * base64, its \uXXXX escapes or a copy with its first character changed had it shown in OAuthError
 * messages and errorDescription, HttpError bodySnippet, events, the diagnostics channel (and so OTel
 * span status) and the CLI's header lines.
 *
 * Now every 12-character run of each known value, and of each of its encoded forms (raw,
 * form-urlencoded, percent-encoded in upper and lower case, JSON-escaped, \uXXXX-escaped, base64 and
 * base64url at the three byte alignments), is removed before any cut.
 */
import { generateKeyPairSync } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AuthMethod,
  ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  M2MTokenError,
  type TokenEvent,
} from '../../src/index.js';
import { runCli } from '../helpers/cli-run.js';
import { exposures, leakedRuns } from '../helpers/leaks.js';
import {
  type Answer,
  type LoopbackServer,
  type ReceivedRequest,
  startLoopbackServer,
} from '../helpers/loopback-server.js';
import { rejectionOf } from '../helpers/outcomes.js';

/** 42 characters; `/` and `+` change under percent-encoding, base64 and form encoding. */
const SECRET = 'abcdefghijklmnop/qrstuvwxyz0123456789+ABCD';
const ACCESS_TOKEN = 'PartialAccessToken-0123456789-abcdefghijklmn';
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const KEY_PEM = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;

const b64 = (text: string) => Buffer.from(text).toString('base64');
const b64url = (text: string) => Buffer.from(text).toString('base64url');
const lowerPercent = (text: string) =>
  encodeURIComponent(text).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
const uEscaped = (text: string, upper = false) =>
  [...text]
    .map((c) => {
      const hex = c.charCodeAt(0).toString(16).padStart(4, '0');
      return `\\u${upper ? hex.toUpperCase() : hex}`;
    })
    .join('');
/** The base64 of `value` as it appears after `prefix` in a longer base64 text (the prefix's chars dropped). */
const b64After = (prefix: string, value: string) =>
  b64(prefix + value).slice(Math.ceil((prefix.length * 8) / 6), -4);

let server: LoopbackServer;
const channel: unknown[] = [];
const onChannel = (message: unknown) => channel.push(message);
beforeAll(async () => {
  server = await startLoopbackServer();
  subscribe('m2m-token', onChannel);
});
afterAll(async () => {
  unsubscribe('m2m-token', onChannel);
  await server.close();
});

const json = (status: number, body: unknown): Answer => ({ status, json: body });
const text = (status: number, body: string): Answer => ({
  status,
  headers: { 'content-type': 'text/plain' },
  body,
});

/** An answer echoing `echo` (a form of the secret), and the runs of what must not survive. */
interface Echo {
  readonly answer: Answer;
  /** Texts none of whose 12-character runs may be shown. */
  readonly mustNotShow: readonly string[];
}

const SECRET_ECHOES: ReadonlyArray<readonly [string, () => Echo]> = [
  [
    'the first 24 characters in error_description',
    () => ({
      answer: json(401, {
        error: 'invalid_client',
        error_description: `secret starting ${SECRET.slice(0, 24)}... is wrong`,
      }),
      mustNotShow: [SECRET],
    }),
  ],
  [
    'a piece from the middle',
    () => ({
      answer: json(401, { error: 'invalid_client', error_description: `got ...${SECRET.slice(9, 30)}...` }),
      mustNotShow: [SECRET],
    }),
  ],
  [
    'the secret split across error_description and error_uri',
    () => ({
      answer: json(400, {
        error: 'invalid_request',
        error_description: `got ${SECRET.slice(0, 20)}`,
        error_uri: `https://as.example/${SECRET.slice(20)}`,
      }),
      mustNotShow: [SECRET],
    }),
  ],
  [
    'a copy with its first character changed',
    () => ({ answer: text(500, `echo: X${SECRET.slice(1)}`), mustNotShow: [SECRET] }),
  ],
  [
    'its lower-case percent-encoding',
    () => ({
      answer: json(401, { error: 'invalid_client', error_description: `got ${lowerPercent(SECRET)}` }),
      mustNotShow: [SECRET, lowerPercent(SECRET)],
    }),
  ],
  [
    'its base64 in error_description',
    () => ({
      answer: json(401, { error: 'invalid_client', error_description: `got ${b64(SECRET)}` }),
      mustNotShow: [SECRET, b64(SECRET)],
    }),
  ],
  [
    'its base64 in a body that is not JSON (bodySnippet)',
    () => ({ answer: text(500, `echo: ${b64(SECRET)}`), mustNotShow: [b64(SECRET)] }),
  ],
  ['its base64url', () => ({ answer: text(500, `echo: ${b64url(SECRET)}`), mustNotShow: [b64url(SECRET)] })],
  [
    'its base64 after one other byte (the second alignment)',
    () => ({ answer: text(500, `echo: ${b64(`x${SECRET}`)}`), mustNotShow: [b64After('x', SECRET)] }),
  ],
  [
    'its base64 after two other bytes (the third alignment)',
    () => ({ answer: text(500, `echo: ${b64(`xy${SECRET}`)}`), mustNotShow: [b64After('xy', SECRET)] }),
  ],
  [
    'its \\uXXXX escapes in a body that is not JSON',
    () => ({
      answer: text(500, `not json: "${uEscaped(SECRET)}"`),
      mustNotShow: [SECRET, uEscaped(SECRET)],
    }),
  ],
  [
    'its upper-case \\uXXXX escapes',
    () => ({ answer: text(500, `"${uEscaped(SECRET, true)}"`), mustNotShow: [uEscaped(SECRET, true)] }),
  ],
];

let clients = 0;
function client(method: AuthMethod, events: TokenEvent[]): ClientCredentialsClient {
  return new ClientCredentialsClient({
    tokenEndpoint: `${server.origin}/token-${++clients}`,
    clientId: 'partial-client',
    retry: false,
    cache: false,
    onEvent: (e) => events.push(e),
    ...(method === 'private_key_jwt' ? { privateKey: KEY_PEM } : { clientSecret: SECRET }),
    authMethod: method,
  } as ClientCredentialsClientOptions);
}

/** Everything one failed call shows: the error (causes included), its events and the channel's. */
async function shownBy(method: AuthMethod, respond: (request: ReceivedRequest) => Answer): Promise<string> {
  server.answer(respond);
  channel.length = 0;
  const events: TokenEvent[] = [];
  const error = await rejectionOf(client(method, events).getToken());
  expect(error).toBeInstanceOf(M2MTokenError);
  // The fields as they are too: JSON and inspect escape a backslash, which would hide \u escapes.
  const fields = Object.values(error as object).filter((v) => typeof v === 'string');
  return [exposures(error), ...fields, JSON.stringify(events), JSON.stringify(channel)].join('\n');
}

describe('pieces and other encodings of the secret are removed', () => {
  for (const method of ['client_secret_basic', 'client_secret_post'] as const) {
    it.each(SECRET_ECHOES)(`${method}: %s`, async (_name, echo) => {
      const { answer, mustNotShow } = echo();
      const shown = await shownBy(method, () => answer);
      for (const value of mustNotShow) expect(leakedRuns(shown, value)).toEqual([]);
    });
  }

  it('what is not the secret stays readable around a removed piece', async () => {
    const shown = await shownBy('client_secret_post', () =>
      json(401, {
        error: 'invalid_client',
        error_description: `secret starting ${SECRET.slice(0, 24)}... is wrong`,
      }),
    );
    expect(shown).toContain('secret starting [redacted]... is wrong');
  });
});

describe('pieces of the client assertion and of the access token are removed', () => {
  it('a piece of the assertion, and the base64 of another piece', async () => {
    let assertion = '';
    const shown = await shownBy('private_key_jwt', (request) => {
      assertion = new URLSearchParams(request.body).get('client_assertion') ?? '';
      return json(401, {
        error: 'invalid_client',
        error_description: `bad ${assertion.slice(7, 60)}`,
        error_uri: `https://as.example/${b64(assertion.slice(70, 130))}`,
      });
    });
    expect(assertion.length).toBeGreaterThan(130);
    expect(leakedRuns(shown, assertion)).toEqual([]);
    expect(leakedRuns(shown, b64(assertion.slice(70, 130)).slice(0, -4))).toEqual([]);
  });

  it('a piece of the access token the answer carries, echoed in another member', async () => {
    const shown = await shownBy('client_secret_basic', () =>
      json(200, { access_token: ACCESS_TOKEN, token_type: `x${ACCESS_TOKEN.slice(3, 30)}` }),
    );
    expect(leakedRuns(shown, ACCESS_TOKEN)).toEqual([]);
  });
});

describe('the CLI', () => {
  it('--verbose header lines and the error: no piece of the secret', async () => {
    server.answer(() => ({
      status: 401,
      headers: {
        'content-type': 'application/json',
        'x-echo-piece': `...${SECRET.slice(3, 30)}...`,
        'x-echo-b64': b64(SECRET),
      },
      body: JSON.stringify({ error: 'invalid_client', error_description: `got ${lowerPercent(SECRET)}` }),
    }));
    const result = await runCli(
      ['token', '--token-endpoint', `${server.origin}/cli`, '--client-id', 'partial-cli', '--verbose'],
      { env: { M2M_CLIENT_SECRET: SECRET } },
    );
    expect(result.code).toBe(1);
    const shown = `${result.stdout}\n${result.stderr}`;
    expect(shown).toContain('x-echo-piece');
    for (const value of [SECRET, b64(SECRET), lowerPercent(SECRET)]) {
      expect(leakedRuns(shown, value)).toEqual([]);
    }
  });
});

describe('the cost stays linear', () => {
  it('a 256 KiB body packed with pieces of the secret and near-misses is judged, every piece removed', async () => {
    const near = `${SECRET.slice(0, 11)}!`;
    const unit = `${SECRET.slice(5, 17)} ${near} ${b64(SECRET).slice(8, 20)} `;
    const body = unit.repeat(Math.ceil((256 * 1024) / unit.length)).slice(0, 255 * 1024);
    const shown = await shownBy('client_secret_post', () => text(502, body));
    expect(leakedRuns(shown, SECRET)).toEqual([]);
    expect(leakedRuns(shown, b64(SECRET))).toEqual([]);
  });
});
