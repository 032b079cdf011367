#!/usr/bin/env node
// Compiles every TypeScript snippet of the Markdown files (README.md, docs/**, examples/**: every .md
// file git knows, tracked or new) the way a user's project would: tsc with `strict`,
// `exactOptionalPropertyTypes` and `module`/`moduleResolution: nodenext`, against the package's own
// published types (dist/*.d.ts through package.json `exports`: run `npm run build` first).
//
// Fences (the words after the language are invisible on GitHub and in TypeDoc):
//   ```ts            a complete ES module: compiled as it is.
//   ```ts partial    a part of a larger program: every export of 'm2m-token' is in scope unless the
//                    snippet imports it itself, and so is `client` (a ClientCredentialsClient) unless
//                    the snippet declares it.
//   ```ts skip       not compiled (pseudo-code, or a fragment that cannot stand alone); say why nearby.
// Relative imports are resolved from the repository root, where the docs have readers run things;
// errors inside the files they import are left to those files' own typecheck.
//
// Run: npm run build && npm run check:snippets
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/**
 * Inside the repository, beside package.json: `m2m-token` then resolves to this package through its
 * own `exports` (a self-reference) and its peers (undici, redis, ...) to node_modules. Git-ignored.
 */
const WORK_ROOT = join(ROOT, '.snippets');

const COMPILER_OPTIONS = {
  strict: true,
  exactOptionalPropertyTypes: true,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  target: ts.ScriptTarget.ES2022,
  lib: ['lib.es2023.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
  types: ['node'],
  skipLibCheck: true,
  noEmit: true,
};

const FENCE = /^(\s*)(`{3,}|~{3,})\s*(ts|typescript|tsx)\b(.*)$/;

/** Every Markdown file git knows about (tracked, or new and not ignored). */
function markdownFiles() {
  const out = execFileSync(
    'git',
    ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', '*.md'],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  );
  return [...new Set(out.split('\0').filter(Boolean))].filter((file) => existsSync(join(ROOT, file))).sort();
}

/** The TypeScript fences of one Markdown file: code, the 1-based line of its first code line, and the mode. */
function snippetsOf(file) {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const snippets = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, , rest] = open;
    const words = rest.trim().split(/\s+/).filter(Boolean);
    const mode = words.includes('skip') ? 'skip' : words.includes('partial') ? 'partial' : 'complete';
    const body = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = lines[j];
      if (
        line.trimStart().startsWith(fence[0].repeat(fence.length)) &&
        line.trim().replace(/[`~]/g, '') === ''
      )
        break;
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line);
    }
    snippets.push({ file, line: i + 2, mode, code: body.join('\n') });
    i = j;
  }
  return snippets;
}

/** The names the main entry exports (values and types), read from the built types. */
function mainEntryExports() {
  const probe = join(WORK_ROOT, 'exports-probe.ts');
  writeFileSync(probe, "export * as entry from 'm2m-token';\n");
  const program = ts.createProgram([probe], COMPILER_OPTIONS);
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(probe);
  const moduleSymbol = checker.getSymbolAtLocation(source.statements[0].moduleSpecifier);
  if (!moduleSymbol) {
    throw new Error("check-snippets: 'm2m-token' does not resolve: run `npm run build` first");
  }
  return checker.getExportsOfModule(moduleSymbol).map((symbol) => symbol.name);
}

/** Names a snippet imports from 'm2m-token' itself. */
function importedFromPackage(code) {
  const names = new Set();
  for (const m of code.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+['"]m2m-token['"]/g)) {
    for (const part of m[1].split(',')) {
      const name = part
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)
        .pop()
        ?.trim();
      if (name) names.add(name);
    }
  }
  return names;
}

/**
 * Relative import specifiers rewritten to be relative to the snippet file: in the Markdown they are
 * relative to the repository root, where the docs have readers run things.
 */
function rebaseRelativeImports(code, snippetFile) {
  return code.replace(
    /(\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)(['"])(\.\.?\/[^'"]+)\2/g,
    (_all, lead, quote, spec) => {
      let rebased = relative(dirname(snippetFile), resolve(ROOT, spec)).split('\\').join('/');
      if (!rebased.startsWith('.')) rebased = `./${rebased}`;
      return `${lead}${quote}${rebased}${quote}`;
    },
  );
}

function main() {
  if (!existsSync(join(ROOT, 'dist', 'index.d.ts'))) {
    console.error('check-snippets: dist/index.d.ts is missing: run `npm run build` first');
    process.exit(1);
  }
  rmSync(WORK_ROOT, { recursive: true, force: true });
  mkdirSync(WORK_ROOT, { recursive: true });
  try {
    run();
  } finally {
    rmSync(WORK_ROOT, { recursive: true, force: true });
  }
}

function run() {
  const all = markdownFiles().flatMap(snippetsOf);
  const exported = mainEntryExports();
  const files = new Map();
  let skipped = 0;
  for (const [index, snippet] of all.entries()) {
    if (snippet.mode === 'skip') {
      skipped++;
      continue;
    }
    const name = `${snippet.file.replace(/[^A-Za-z0-9]+/g, '_')}_L${snippet.line}_${index}.ts`;
    const path = join(WORK_ROOT, name);
    let prelude = '';
    if (snippet.mode === 'partial') {
      const own = importedFromPackage(snippet.code);
      const names = exported.filter(
        (n) => !own.has(n) && !new RegExp(`\\b(const|let|var|class|function)\\s+${n}\\b`).test(snippet.code),
      );
      const declaresClient = /\b(?:const|let|var|using)\s+client\b/.test(snippet.code);
      // One line, so that the snippet's line numbers are off by exactly one.
      prelude = `import { ${names.join(', ')} } from 'm2m-token';`;
      if (!declaresClient) prelude += " declare const client: import('m2m-token').ClientCredentialsClient;";
    }
    // `export {}` makes every snippet a module (top-level await, no global leaks between snippets).
    const code = `${prelude}\n${rebaseRelativeImports(snippet.code, path)}\nexport {};\n`;
    writeFileSync(path, code);
    files.set(path, snippet);
  }

  const program = ts.createProgram([...files.keys()], COMPILER_OPTIONS);
  const problems = [];
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const file = diagnostic.file?.fileName;
    const snippet = file ? files.get(resolve(file)) : undefined;
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    if (!snippet) {
      // In a file a snippet imports (examples/...): checked by its own project (npm run typecheck).
      if (file) continue;
      problems.push(`(global): TS${diagnostic.code}: ${message}`);
      continue;
    }
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    // Line 0 is the prelude line.
    const mdLine = snippet.line + line - 1;
    problems.push(
      `${snippet.file}:${mdLine}: TS${diagnostic.code}: ${message}${snippet.mode === 'partial' ? ' (partial)' : ''}`,
    );
  }

  const compiled = files.size;
  if (problems.length > 0) {
    console.error(problems.join('\n'));
    console.error(
      `\ncheck-snippets: ${problems.length} error(s) in ${compiled} snippets (strict, exactOptionalPropertyTypes, nodenext). ` +
        'Fix the snippet, or mark a fragment ```ts partial (or ```ts skip); see scripts/check-snippets.mjs.',
    );
    process.exit(1);
  }
  console.log(
    `check-snippets: ${compiled} TypeScript snippets compile (strict, exactOptionalPropertyTypes, nodenext, against dist/); ${skipped} marked skip`,
  );
}

main();
