#!/usr/bin/env node
// npm's `prepare` script: builds dist/ when this package is installed as a git dependency
// (`npm install git+https://...`). npm then clones the repository, installs its devDependencies and
// runs `prepare` in the clone; it never runs `prepack` there, and dist/ is not committed.
//
// npm also runs `prepare` after this repository's own `npm ci` / `npm install` and on `npm pack`:
// there it does nothing (`npm run build` builds, and `npm pack` builds through `prepack`), so that
// `npm ci && npm test` does not pay for a build. The two are told apart by INIT_CWD, the directory
// npm was started in: a git dependency is prepared in npm's clone, not where npm was started.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

const startedIn = process.env.INIT_CWD;
if (startedIn && resolve(startedIn) !== resolve(process.cwd())) {
  execFileSync('npm', ['run', 'build'], { stdio: 'inherit', shell: process.platform === 'win32' });
}
