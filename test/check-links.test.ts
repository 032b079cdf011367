/**
 * The link checker of the Markdown files (scripts/check-links.ts, `npm run check:links`, run by CI):
 * what it reports on fixtures, and that the repository's own Markdown passes it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anchorsOf, checkLinks, linksOf, markdownFiles } from '../scripts/check-links.js';

describe('anchorsOf: GitHub heading anchors', () => {
  it.each([
    ['## When the API answers 401', 'when-the-api-answers-401'],
    [
      '### Servers that compare the raw values: auto-detection',
      'servers-that-compare-the-raw-values-auto-detection',
    ],
    ['## The `m2m-token` command line', 'the-m2m-token-command-line'],
    ['## Runtimes: Node, Bun, Deno and Cloudflare Workers', 'runtimes-node-bun-deno-and-cloudflare-workers'],
    ['## client_secret_json (Auth0 style)', 'client_secret_json-auth0-style'],
    ['## DPoP and mTLS: which one?', 'dpop-and-mtls-which-one'],
    ['## A [linked](x.md) heading', 'a-linked-heading'],
  ])('%s -> #%s', (heading, anchor) => {
    expect(anchorsOf(`${heading}\n`)).toContain(anchor);
  });

  it('numbers repeated headings and reads explicit anchors, not headings inside code', () => {
    const anchors = anchorsOf('## Setup\n\n## Setup\n\n<a id="custom"></a>\n\n```sh\n# not-a-heading\n```\n');
    expect([...anchors].sort()).toEqual(['custom', 'setup', 'setup-1']);
  });
});

describe('linksOf', () => {
  it('finds inline links, images, reference definitions and <a href>, not code', () => {
    const text = [
      'See [the guide](docs/a.md#top "title") and ![logo](img/logo.png).',
      '[ref]: docs/b.md',
      '<a href="docs/c.md">c</a>',
      'Not a link: `[x](nowhere.md)`.',
      '```md',
      '[inside](a-fence.md)',
      '```',
    ].join('\n');
    expect(linksOf(text)).toEqual([
      { target: 'docs/a.md#top', line: 1 },
      { target: 'img/logo.png', line: 1 },
      { target: 'docs/b.md', line: 2 },
      { target: 'docs/c.md', line: 3 },
    ]);
  });
});

describe('checkLinks on fixtures', () => {
  let root: string;
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'm2m-links-'));
    write('docs/guide.md', '# Guide\n\n## The 401 rule\n\nBack to [the README](../README.md#install).\n');
    write('examples/run.ts', 'export {};\n');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('accepts files, folders, headings, same-file anchors and external links', () => {
    write(
      'README.md',
      [
        '# m2m-token',
        '## Install',
        '[guide](docs/guide.md) [rule](docs/guide.md#the-401-rule) [examples](examples/)',
        '[code](examples/run.ts) [up](#install) [site](https://example.com/x.md) [mail](mailto:a@b.c)',
      ].join('\n'),
    );
    expect(checkLinks(root, ['README.md', 'docs/guide.md'])).toEqual([]);
  });

  it('reports a missing file, a missing heading and a path from the site root, with their lines', () => {
    write(
      'README.md',
      [
        '# m2m-token',
        '[gone](docs/gone.md)',
        '[no such heading](docs/guide.md#the-402-rule)',
        '[rooted](/docs/guide.md)',
        '[outside](../elsewhere.md)',
      ].join('\n'),
    );
    const problems = checkLinks(root, ['README.md']);
    expect(problems.map((p) => [p.line, p.target])).toEqual([
      [2, 'docs/gone.md'],
      [3, 'docs/guide.md#the-402-rule'],
      [4, '/docs/guide.md'],
      [5, '../elsewhere.md'],
    ]);
    expect(problems[0]!.reason).toContain('does not exist');
    expect(problems[1]!.reason).toContain('no heading or anchor "#the-402-rule"');
  });
});

describe("the repository's Markdown", () => {
  it('has no broken relative link (npm run check:links)', () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const problems = checkLinks(root, markdownFiles(root));
    expect(problems.map((p) => `${p.file}:${p.line}: ${p.target}: ${p.reason}`)).toEqual([]);
  });
});
