/** `m2m-token token`: gets a token and prints it (alone, as a header line, as JSON, or decoded). */

import { authorizationFor } from '../fetch/shared.js';
import { parseCommand, UsageError } from './args.js';
import { describeToken } from './decode.js';
import { TOKEN_OUTPUT_OPTIONS } from './flags.js';
import { TOKEN_HELP } from './help.js';
import { type Io, warn } from './io.js';
import { type CommandState, openClient, verboseLine } from './session.js';

export async function tokenCommand(args: readonly string[], io: Io, state: CommandState): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(TOKEN_HELP);
    return 0;
  }
  const { values } = parseCommand('token', args, 0);
  state.verbose = values.verbose === true;
  if (values.header === true) {
    // The old spelling: printed as before (scripts keep working), with a pointer to the new one.
    warn(
      io,
      "note: 'token --header' is now 'token --auth-header' (-H/--header sends a request header in 'fetch')",
    );
    values['auth-header'] = true;
    values.header = undefined;
  }
  const modes = TOKEN_OUTPUT_OPTIONS.map((o) => o.name).filter((name) => values[name] === true);
  if (modes.length > 1) throw new UsageError(`--${modes[0]} and --${modes[1]} cannot be combined`);

  const client = await openClient(values, io, state);
  const started = performance.now();
  let token: Awaited<ReturnType<typeof client.getToken>>;
  try {
    token = await client.getToken();
  } finally {
    await client.close();
  }
  if (state.verbose) verboseLine(io, state)(`* done in ${Math.round(performance.now() - started)} ms`);
  const dpop = token.tokenType.toLowerCase() === 'dpop';
  if (dpop && state.ephemeralDpopKey && modes[0] !== 'decode') {
    warn(
      io,
      'note: this DPoP token is bound to a key that existed only in this run: it is of no use elsewhere (give --dpop-key FILE, or call the API with m2m-token fetch --dpop)',
    );
  }

  switch (modes[0]) {
    case 'json':
      // The whole token response (refresh_token aside, which the client drops: RFC 6749 4.4.3).
      io.stdout.write(`${JSON.stringify({ ...token.raw, access_token: token.accessToken }, null, 2)}\n`);
      break;
    case 'auth-header':
      // The library's own header value: a DPoP token goes with the DPoP scheme (no proof: the caller
      // makes one for each request, RFC 9449 7.1).
      io.stdout.write(`Authorization: ${authorizationFor(token, dpop ? 'dpop' : 'bearer')}\n`);
      break;
    case 'decode':
      io.stdout.write(describeToken(token, Date.now()));
      break;
    default:
      io.stdout.write(`${token.accessToken}\n`);
  }
  return 0;
}
