/** Dispatches `m2m-token COMMAND ...` and turns failures into exit codes and stderr lines. */
import { readFileSync } from 'node:fs';
import { didYouMean } from '../options/keys.js';
import { UsageError } from './args.js';
import { fetchCommand } from './fetch-command.js';
import { FETCH_HELP, MAIN_HELP, TOKEN_HELP } from './help.js';
import type { Io } from './io.js';
import { describeFailure } from './report.js';
import { type CommandState, newState } from './session.js';
import { tokenCommand } from './token-command.js';

const HELP: Readonly<Record<string, string>> = { token: TOKEN_HELP, fetch: FETCH_HELP };

/** Runs the command line `argv` (without node and the script); resolves to the exit code. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  const state: CommandState = newState(command === 'token' || command === 'fetch' ? command : 'main');
  try {
    switch (command) {
      case 'token':
        return await tokenCommand(rest, io, state);
      case 'fetch':
        return await fetchCommand(rest, io, state);
      case 'help': {
        const topic = rest[0];
        if (topic !== undefined && HELP[topic] === undefined) throw new UsageError(`no help for '${topic}'`);
        io.stdout.write(topic ? (HELP[topic] as string) : MAIN_HELP);
        return 0;
      }
      case '-h':
      case '--help':
        io.stdout.write(MAIN_HELP);
        return 0;
      case '--version':
        io.stdout.write(`${version()}\n`);
        return 0;
      case undefined:
        throw new UsageError('missing command: m2m-token token|fetch [options]');
      default:
        throw new UsageError(unknownCommand(command));
    }
  } catch (error) {
    const failure = describeFailure(error, {
      command: state.command,
      verbose: state.verbose,
      lastUrl: state.log.lastUrl,
      timeoutMs: state.timeoutMs,
    });
    // Every line may hold text a server sent: redacted of what this run knows, and of anything
    // credential-shaped (the library's own messages already are).
    const [first, ...more] = failure.lines.map((line) => state.known.redact(line));
    io.stderr.write(`m2m-token: ${first}\n${more.map((line) => `${line}\n`).join('')}`);
    return failure.exitCode;
  }
}

function unknownCommand(command: string): string {
  if (command.startsWith('-'))
    return `put the command first: m2m-token token|fetch [options] (got ${command})`;
  const suggestion = didYouMean(command, ['token', 'fetch', 'help']);
  return `unknown command '${command.slice(0, 40)}'${suggestion ? `; did you mean '${suggestion}'?` : ''} (token, fetch or help)`;
}

/** The package version, from the nearest m2m-token package.json above this file (dist/cli.js or src/cli/run.ts). */
function version(): string {
  for (let up = 1; up <= 5; up++) {
    try {
      const url = new URL(`${'../'.repeat(up)}package.json`, import.meta.url);
      const pkg = JSON.parse(readFileSync(url, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'm2m-token' && pkg.version) return pkg.version;
    } catch {
      // Not here: one level up.
    }
  }
  return 'unknown';
}
