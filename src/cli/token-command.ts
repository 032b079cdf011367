/** `m2m-token token`: gets a token and prints it (alone, as a header, as JSON, or decoded). */
import { CLIENT_OPTIONS, COMMON_OPTIONS, parseCommand, SECRET_OPTIONS, UsageError } from './args.js';
import { describeToken } from './decode.js';
import { TOKEN_HELP, TOKEN_OUTPUT_OPTIONS } from './help.js';
import type { Io } from './io.js';
import { type CommandState, openClient, verboseLine } from './session.js';

const SPECS = [...CLIENT_OPTIONS, ...SECRET_OPTIONS, ...TOKEN_OUTPUT_OPTIONS, ...COMMON_OPTIONS];

export async function tokenCommand(args: readonly string[], io: Io, state: CommandState): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(TOKEN_HELP);
    return 0;
  }
  const { values } = parseCommand(args, SPECS, 0);
  state.verbose = values.verbose === true;
  const modes = TOKEN_OUTPUT_OPTIONS.map((o) => o.name).filter((name) => values[name] === true);
  if (modes.length > 1) throw new UsageError(`--${modes[0]} and --${modes[1]} cannot be combined`);

  const client = await openClient(values, io, state);
  const started = performance.now();
  const token = await client.getToken();
  if (state.verbose) verboseLine(io)(`* done in ${Math.round(performance.now() - started)} ms`);

  switch (modes[0]) {
    case 'json':
      // The whole token response (refresh_token aside, which the client drops: RFC 6749 4.4.3).
      io.stdout.write(`${JSON.stringify({ ...token.raw, access_token: token.accessToken }, null, 2)}\n`);
      break;
    case 'header':
      io.stdout.write(`Authorization: Bearer ${token.accessToken}\n`);
      break;
    case 'decode':
      io.stdout.write(describeToken(token, Date.now()));
      break;
    default:
      io.stdout.write(`${token.accessToken}\n`);
  }
  return 0;
}
