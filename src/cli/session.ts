/** One command's client: built from the options, with the CLI's logging fetch and event lines. */
import { ClientCredentialsClient, DEFAULTS } from '../index.js';
import type { Values } from './args.js';
import { resolveClientConfig } from './client-config.js';
import { type Io, warn } from './io.js';
import { eventLine, KnownCredentials, loggingFetch, type RequestLog } from './verbose.js';

/** What the error report needs to know about the command that failed. */
export interface CommandState {
  command: string;
  verbose: boolean;
  log: RequestLog;
  timeoutMs?: number;
  /** DPoP with a key made for this run (a printed token is of no use elsewhere). */
  ephemeralDpopKey?: boolean;
  /**
   * The credentials this run knows (the secret, what each request carried, the tokens of each token
   * response): every line shown on stderr is redacted of them (and of anything credential-shaped).
   */
  readonly known: KnownCredentials;
}

export function newState(command: string): CommandState {
  return { command, verbose: false, log: {}, known: new KnownCredentials() };
}

/** Writes a `*`/`>`/`<` diagnostic line to stderr, redacted (only called with --verbose). */
export function verboseLine(io: Io, state: CommandState): (text: string) => void {
  return (text) => io.stderr.write(`${state.known.redact(text)}\n`);
}

export async function openClient(
  values: Values,
  io: Io,
  state: CommandState,
): Promise<ClientCredentialsClient> {
  const config = await resolveClientConfig(values, io);
  if (config.secretOnCommandLine) {
    warn(
      io,
      'warning: --client-secret puts the secret on the command line, where other processes and the shell history can see it; prefer M2M_CLIENT_SECRET, --client-secret-file or --client-secret-stdin',
    );
  }
  const line = state.verbose ? verboseLine(io, state) : undefined;
  const o = config.options;
  state.timeoutMs = o.timeoutMs ?? DEFAULTS.timeoutMs;
  state.ephemeralDpopKey = config.ephemeralDpopKey;
  if (line) {
    const where = o.issuer ? `issuer ${o.issuer}` : `token endpoint ${o.tokenEndpoint}`;
    const credentials = [
      config.secretSource ? `secret from ${config.secretSource}` : undefined,
      o.privateKey !== undefined ? 'private key' : undefined,
      o.clientAssertionFile !== undefined ? `client assertion from ${o.clientAssertionFile}` : undefined,
      o.certificate !== undefined ? 'certificate' : undefined,
      o.dpop ? `DPoP${config.ephemeralDpopKey ? ' (a key made for this run)' : ''}` : undefined,
    ]
      .filter(Boolean)
      .join(', ');
    line(`* ${where}, client id ${o.clientId}, ${credentials}${o.authMethod ? `, ${o.authMethod}` : ''}`);
  }
  state.known.add(typeof o.clientSecret === 'string' ? o.clientSecret : undefined);
  return new ClientCredentialsClient({
    ...o,
    fetch: loggingFetch((input, init) => globalThis.fetch(input, init), state.log, line, state.known),
    onEvent: (event) => {
      const text = line && eventLine(event);
      if (text) line(text);
    },
  });
}
