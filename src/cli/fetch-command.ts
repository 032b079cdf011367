/** `m2m-token fetch URL`: calls an API through the client's fetch wrapper, like curl with a token. */
import { once } from 'node:events';
import { parseCommand, UsageError } from './args.js';
import { parseHeader } from './client-config.js';
import { FETCH_HELP } from './help.js';
import { type Io, readNamedFile, readStdin, warn } from './io.js';
import { type CommandState, openClient, verboseLine } from './session.js';

export async function fetchCommand(args: readonly string[], io: Io, state: CommandState): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(FETCH_HELP);
    return 0;
  }
  const { values, positionals } = parseCommand('fetch', args, 1);
  state.verbose = values.verbose === true;
  const url = positionals[0];
  if (url === undefined) throw new UsageError('missing URL: m2m-token fetch URL [options]');
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new UsageError(`'${url}' is not an absolute URL`);
  }
  if (target.protocol !== 'https:' && target.protocol !== 'http:') {
    throw new UsageError(`unsupported protocol ${target.protocol} (use http or https)`);
  }

  const headers = new Headers();
  for (const text of (values.header as string[] | undefined) ?? [])
    headers.append(...parseHeader(text, '-H'));

  const data = values.data as string | undefined;
  let body: Uint8Array<ArrayBuffer> | string | undefined;
  if (data?.startsWith('@')) {
    if (data === '@-') {
      if (values['client-secret-stdin'])
        throw new UsageError('-d @- and --client-secret-stdin both need standard input');
      body = new Uint8Array(await readStdin(io));
    } else {
      body = new Uint8Array(await readNamedFile('-d', data.slice(1)));
    }
  } else {
    body = data;
  }
  const method = (
    (values.request as string | undefined) ?? (body !== undefined ? 'POST' : 'GET')
  ).toUpperCase();
  // As curl does: -d without a Content-Type sends a form.
  if (body !== undefined && !headers.has('content-type'))
    headers.set('content-type', 'application/x-www-form-urlencoded');

  const client = await openClient(values, io, state);
  try {
    const started = performance.now();
    const response = await client.fetch(target.href, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
    });

    if (values.include) {
      // The API's head as it came, less the credentials this run sent (an API or proxy may echo them).
      const known = state.known;
      let head = `HTTP/1.1 ${response.status} ${known.withoutKnown(response.statusText)}`.trimEnd();
      for (const [name, value] of response.headers) head += `\n${name}: ${known.withoutKnown(value)}`;
      io.stdout.write(`${head}\n\n`);
    }
    if (response.body) {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        if (!io.stdout.write(chunk)) await once(io.stdout, 'drain');
      }
    }
    if (state.verbose) verboseLine(io, state)(`* done in ${Math.round(performance.now() - started)} ms`);
    if (response.status >= 400) {
      warn(
        io,
        state.known.redact(
          `${method} ${target.origin}${target.pathname} answered ${response.status} ${response.statusText}`.trimEnd(),
        ),
      );
      return 1;
    }
    return 0;
  } finally {
    // Releases what the client holds (an mTLS Agent) once the body has been read.
    await client.close();
  }
}
