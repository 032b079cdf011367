/**
 * The `m2m-token` bin (built by tsup to dist/cli.js with a `#!/usr/bin/env node` banner).
 * See `m2m-token --help`; the commands live in run.ts, token-command.ts and fetch-command.ts.
 */
import { nodeIo } from './io.js';
import { run } from './run.js';

// `m2m-token fetch URL | head -1`: a closed pipe ends the output quietly, as with other tools.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

// The client's retry backoff timers are not unref'd, so a command waits through a backoff (tested in
// test/cli-bin.test.ts); nothing else has to hold the event loop open.
process.exitCode = await run(process.argv.slice(2), nodeIo());
