/**
 * The main entry as a worker bundle (issue 14, points 2 and 4): it bundles with exactly
 * `esbuild --bundle --platform=browser --conditions=workerd,worker,browser` (no externals, aliases or
 * compat flags) without Node-only modules; minified, its errors keep their names; and two copies of it
 * (two bundles, as two installs would be) recognise each other's errors through the brand.
 * CI runs the same check on the built package (`node scripts/runtimes/worker-bundle.mjs dist/index.js`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleForWorkers, type WorkerBundle } from '../scripts/runtimes/worker-bundle.mjs';
import * as sources from '../src/index.js';
import { thrownBy } from './helpers/outcomes.js';

type Entry = typeof sources;

const ENTRY = resolve(import.meta.dirname, '../src/index.ts');
const dir = mkdtempSync(join(tmpdir(), 'm2m-worker-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let bundle: WorkerBundle;
let copyA: Entry;
let copyB: Entry;

beforeAll(async () => {
  bundle = await bundleForWorkers(ENTRY, { minify: true });
  // Two copies of the package, as two installs in one dependency tree would be.
  for (const name of ['a.mjs', 'b.mjs']) writeFileSync(join(dir, name), bundle.code);
  copyA = await import(pathToFileURL(join(dir, 'a.mjs')).href);
  copyB = await import(pathToFileURL(join(dir, 'b.mjs')).href);
}, 60_000);

describe('worker bundle of the main entry', () => {
  it('bundles for a browser-like platform with no Node-only module and no literal import of one', () => {
    expect(bundle.problems).toEqual([]);
    expect(bundle.inputs.some((file) => file.includes('node_modules/undici/'))).toBe(false);
    expect(bundle.code).not.toMatch(/import\(\s*["'](undici|node:crypto|crypto)["']\s*\)/);
    // jose comes in tree-shaken (a namespace import would bring all of it): well under its full size.
    expect(bundle.inputs.filter((file) => file.includes('node_modules/jose/')).length).toBeLessThan(60);
  });

  it('minified, the error classes keep their literal names', () => {
    const {
      ConfigurationError,
      HttpError,
      OAuthError,
      DiscoveryError,
      OriginNotAllowedError,
      M2MTokenError,
    } = copyA;
    // The minifier renamed the classes: the names must not come from the constructors.
    expect(ConfigurationError.name).not.toBe('ConfigurationError');
    expect(new ConfigurationError('clientId', 'x').name).toBe('ConfigurationError');
    expect(new HttpError('x', { status: 500 }).name).toBe('HttpError');
    expect(new OAuthError({ error: 'invalid_client', status: 401 }).name).toBe('OAuthError');
    expect(new DiscoveryError('https://idp.test/', 'x').name).toBe('DiscoveryError');
    expect(new OriginNotAllowedError('https://evil.test').name).toBe('OriginNotAllowedError');
    expect(new M2MTokenError('x', 'M2M_HTTP_ERROR').name).toBe('M2MTokenError');
  });

  it('not minified (as the published build is), each error class keeps its own name as constructor name', async () => {
    const plain = await bundleForWorkers(ENTRY, { minify: false });
    const file = join(dir, 'plain.mjs');
    writeFileSync(file, plain.code);
    const copy: Entry = await import(pathToFileURL(file).href);
    const names = [
      'M2MTokenError',
      'ConfigurationError',
      'OAuthError',
      'HttpError',
      'DiscoveryError',
      'OriginNotAllowedError',
    ];
    const classesOf = (entry: Entry) => [
      entry.M2MTokenError,
      entry.ConfigurationError,
      entry.OAuthError,
      entry.HttpError,
      entry.DiscoveryError,
      entry.OriginNotAllowedError,
    ];
    // util.inspect, uncaught-error output and loggers print constructor.name: `_HttpError` was shown.
    expect(classesOf(copy).map((ctor) => ctor.name)).toEqual(names);
    expect(classesOf(sources).map((ctor) => ctor.name)).toEqual(names);
  });

  it('an error thrown by one copy is an instance of the other copy’s classes by its class chain', () => {
    const thrown = thrownBy(
      () => new copyA.ClientCredentialsClient({ clientId: 'a', clientSecret: 'b' } as never),
    );
    expect(thrown).toBeInstanceOf(copyA.ConfigurationError);
    expect(thrown).toBeInstanceOf(copyB.ConfigurationError);
    expect(thrown).toBeInstanceOf(copyB.M2MTokenError);
    expect(thrown).not.toBeInstanceOf(copyB.OAuthError);
    expect(thrown).not.toBeInstanceOf(copyB.HttpError);
    expect((thrown as Error).name).toBe('ConfigurationError');
    const oauth = new copyB.OAuthError({ error: 'invalid_client', status: 401 });
    expect(oauth).toBeInstanceOf(copyA.OAuthError);
    expect(oauth).toBeInstanceOf(copyA.M2MTokenError);
    expect(oauth).not.toBeInstanceOf(copyA.ConfigurationError);
    // And with the unbundled package (a third copy).
    expect(oauth).toBeInstanceOf(sources.OAuthError);
    expect(new sources.HttpError('x', { status: 502 })).toBeInstanceOf(copyA.HttpError);
    expect(new sources.HttpError('x', { status: 502 })).not.toBeInstanceOf(copyA.OAuthError);
  });
});
