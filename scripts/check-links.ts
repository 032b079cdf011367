/**
 * Checks every relative link of the Markdown files git knows (tracked, or new and not ignored): the
 * file or folder it names must exist, and a `#fragment` must be a heading (GitHub's anchor for it) or an
 * explicit `<a id>`/`<a name>` of the target file. Links to other sites (`https:`, `mailto:`, ...) are
 * not fetched. Links inside code fences and code spans are not links.
 *
 *   npm run check:links          exit 1 and one line per broken link
 *
 * The same checks run from test/check-links.test.ts on fixtures, so the checker itself cannot rot.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One broken link: where it is and why. */
export interface LinkProblem {
  readonly file: string;
  readonly line: number;
  readonly target: string;
  readonly reason: string;
}

/** A link found in a Markdown file: its target as written and its 1-based line. */
export interface FoundLink {
  readonly target: string;
  readonly line: number;
}

const FENCE = /^\s*(`{3,}|~{3,})/;

/** The lines of a Markdown text with fenced code blocks blanked out (line numbers kept). */
function proseLines(text: string): string[] {
  const lines = text.split('\n');
  let fence: string | undefined;
  return lines.map((line) => {
    const open = FENCE.exec(line);
    if (fence === undefined) {
      if (open) {
        fence = open[1];
        return '';
      }
      return line;
    }
    if (open && line.trim().replace(/[`~]/g, '') === '' && open[1]!.length >= fence.length) fence = undefined;
    return '';
  });
}

/** Inline links `[text](target "title")`, images, reference definitions `[id]: target` and `<a href>`. */
export function linksOf(text: string): FoundLink[] {
  const found: FoundLink[] = [];
  proseLines(text).forEach((raw, index) => {
    const line = raw.replace(/(`+)(?:(?!\1).)+\1/g, ''); // code spans
    const add = (target: string | undefined) => {
      if (target) found.push({ target: target.trim(), line: index + 1 });
    };
    for (const m of line.matchAll(/\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+"[^"]*")?\s*\)/g)) {
      add(m[1]!.replace(/^<|>$/g, ''));
    }
    const definition = /^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/.exec(line);
    if (definition) add(definition[1]!.replace(/^<|>$/g, ''));
    for (const m of line.matchAll(/<a\s[^>]*href="([^"]+)"/g)) add(m[1]);
  });
  return found;
}

/**
 * GitHub's anchor for a heading: lower case, inline markup dropped, punctuation other than `-` and `_`
 * removed, each space a `-` (as github-slugger does); repeats get `-1`, `-2`, ...
 */
export function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(text)) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const plain = heading[1]!
        .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
        .replace(/<[^>]+>/g, '') // inline HTML
        .replace(/[`*~]/g, '')
        .toLowerCase();
      const base = plain.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      anchors.add(count === 0 ? base : `${base}-${count}`);
    }
    for (const m of line.matchAll(/<a\s[^>]*(?:id|name)="([^"]+)"/g)) anchors.add(m[1]!);
  }
  return anchors;
}

/** True for a link to another site or scheme (`https:`, `mailto:`, `//host`), which is not checked. */
function isExternal(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');
}

/** The broken relative links of the given Markdown files (paths relative to `root`). */
export function checkLinks(root: string, files: readonly string[]): LinkProblem[] {
  const problems: LinkProblem[] = [];
  const anchorCache = new Map<string, Set<string>>();
  const anchorsIn = (path: string) => {
    let anchors = anchorCache.get(path);
    if (!anchors) {
      anchors = anchorsOf(readFileSync(path, 'utf8'));
      anchorCache.set(path, anchors);
    }
    return anchors;
  };

  for (const file of files) {
    const source = join(root, file);
    for (const { target, line } of linksOf(readFileSync(source, 'utf8'))) {
      if (isExternal(target)) continue;
      const hash = target.indexOf('#');
      const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash)).replace(/\?.*$/, '');
      const fragment = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
      const resolved = pathPart === '' ? source : resolve(dirname(source), pathPart);
      const problem = (reason: string) => problems.push({ file, line, target, reason });

      if (pathPart.startsWith('/')) {
        problem('a path from the site root: write it relative to this file');
        continue;
      }
      if (relative(root, resolved).startsWith('..')) {
        problem('points outside the repository');
        continue;
      }
      if (!existsSync(resolved)) {
        problem(`${relative(root, resolved) || '.'} does not exist`);
        continue;
      }
      if (fragment === undefined || fragment === '') continue;
      if (statSync(resolved).isDirectory() || !resolved.endsWith('.md')) {
        problem('a #fragment on something that is not a Markdown file');
        continue;
      }
      if (/^L\d+(-L\d+)?$/.test(fragment)) continue; // a line of a file, as GitHub shows it
      if (!anchorsIn(resolved).has(fragment.toLowerCase())) {
        problem(`no heading or anchor "#${fragment}" in ${relative(root, resolved)}`);
      }
    }
  }
  return problems;
}

/** Every Markdown file git knows about (tracked, or new and not ignored), relative to `root`. */
export function markdownFiles(root: string): string[] {
  const out = execFileSync(
    'git',
    ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', '*.md'],
    {
      cwd: root,
      encoding: 'utf8',
    },
  );
  return [...new Set(out.split('\0').filter(Boolean))].filter((file) => existsSync(join(root, file))).sort();
}

function main(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const files = markdownFiles(root);
  const problems = checkLinks(root, files);
  if (problems.length > 0) {
    for (const p of problems) console.error(`${p.file}:${p.line}: ${p.target}: ${p.reason}`);
    console.error(
      `\ncheck-links: ${problems.length} broken relative link(s) in ${files.length} Markdown files`,
    );
    process.exit(1);
  }
  const count = files.reduce((n, file) => n + linksOf(readFileSync(join(root, file), 'utf8')).length, 0);
  console.log(`check-links: every relative link of ${files.length} Markdown files resolves (${count} links)`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
