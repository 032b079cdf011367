/**
 * Command-line arguments: parsing with node:util parseArgs against the tables of flags.ts, and usage
 * errors that say what to type instead (a did-you-mean for unknown flags, positions counted as typed).
 */
import { parseArgs } from 'node:util';
import { didYouMean } from '../options/keys.js';
import { COMMAND_SPECS, type OptionSpec } from './flags.js';

/** A usage error: exit status 2, a one-line message and a pointer to --help. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface ParsedCommand {
  readonly values: Values;
  readonly positionals: string[];
}

export type Command = keyof typeof COMMAND_SPECS;

/**
 * Parses the arguments of `command` (the words after it); parseArgs errors become one-line
 * UsageErrors. `positionals` is how many plain words the command takes.
 */
export function parseCommand(command: Command, args: readonly string[], positionals: number): ParsedCommand {
  const specs = COMMAND_SPECS[command];
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const spec of specs) {
    options[spec.name] = {
      type: spec.type,
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.multiple ? { multiple: true } : {}),
    };
  }
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options; tokens: true; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true, tokens: true });
  } catch (error) {
    throw new UsageError(parseArgsMessage(error, command));
  }
  const words = parsed.tokens.filter((t) => t.kind === 'positional');
  const extra = words[positionals];
  if (extra !== undefined) {
    // Counted as typed after `m2m-token`: the command is word 1.
    const before = parsed.tokens.find((t) => t.index === extra.index - 1);
    const flagBefore =
      before?.kind === 'option' && before.value === undefined ? `; ${before.rawName} takes no value` : '';
    throw new UsageError(
      `unexpected word ${extra.index + 2} (not shown: it may hold a credential)${flagBefore}; options start with --`,
    );
  }
  return { values: parsed.values as Values, positionals: words.map((t) => t.value) };
}

function parseArgsMessage(error: unknown, command: Command): string {
  const e = error as { code?: string; message?: string };
  const quoted = /'([^']*)'/.exec(e.message ?? '')?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return quoted ? unknownFlag(quoted, command) : 'unknown option';
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      // "Option '--a <value>' argument missing", "Option '--b' does not take an argument", ambiguous dashes.
      return (
        (e.message ?? 'invalid option value').split('. ')[0]?.replace(/^Option/, 'option') ??
        'invalid option value'
      );
    default:
      return e.message ?? 'invalid arguments';
  }
}

/** `unknown option --audiance; did you mean --audience?`, or where the flag belongs when it is the other command's. */
function unknownFlag(flag: string, command: Command): string {
  const long = flag.startsWith('--');
  const name = flag.replace(/^--?/, '');
  const other: Command = command === 'token' ? 'fetch' : 'token';
  const find = (specs: readonly OptionSpec[]) =>
    specs.find((s) => (long ? s.name === name : s.short === name));
  if (find(COMMAND_SPECS[other]) && !find(COMMAND_SPECS[command])) {
    const instead =
      command === 'token' && name === 'H' ? '; a header of token requests is --token-request-header' : '';
    return `unknown option ${flag}: it is an option of 'm2m-token ${other}', not of '${command}'${instead}`;
  }
  if (!long) return `unknown option ${flag}`;
  const suggestion = didYouMean(
    name,
    COMMAND_SPECS[command].map((s) => s.name),
  );
  return `unknown option ${flag}${suggestion ? `; did you mean --${suggestion}?` : ''}`;
}
