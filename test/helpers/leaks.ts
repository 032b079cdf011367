/**
 * What a logger could print of a value, and searches for a credential in it (issue 12.6: "no
 * 12-character run of a secret, assertion or token anywhere").
 *
 *   exposures(error)                   message, stack, own properties as JSON, inspect, format, causes
 *   leakedRuns(text, secret)           the 12-character runs of `secret` found in `text` ([] when none)
 */
import { format, inspect } from 'node:util';

/**
 * Everything a logger could print of `value` and its causes: message, stack, JSON of its own properties
 * (symbol keys included), util.inspect with showHidden and getters, and util.format's %o and %s.
 */
export function exposures(value: unknown): string {
  const parts: string[] = [];
  let current: unknown = value;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    if (typeof current !== 'object') {
      parts.push(String(current));
      break;
    }
    const e = current as Record<PropertyKey, unknown>;
    parts.push(String(e.message), String(e.stack));
    const own: Record<string, unknown> = {};
    for (const key of Reflect.ownKeys(e)) own[String(key)] = e[key as string];
    parts.push(JSON.stringify(own, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)) ?? '');
    parts.push(inspect(current, { showHidden: true, depth: Number.POSITIVE_INFINITY, getters: true }));
    parts.push(format('%o', current), format('%s', current));
    current = e.cause;
  }
  return parts.join('\n');
}

/** The `length`-character runs of `value` that occur in `text`. Empty when none leaked. */
export function leakedRuns(text: string, value: string, length = 12): string[] {
  const found: string[] = [];
  for (let i = 0; i + length <= value.length; i++) {
    const run = value.slice(i, i + length);
    if (text.includes(run)) found.push(run);
  }
  return found;
}
