import { afterEach, describe, expect, it, vi } from 'vitest';
import { type CachedToken, ConfigurationError, MemoryTokenCache } from '../src/index.js';
import { thrownBy } from './helpers/outcomes.js';
import { testToken } from './helpers/tokens.js';

function entry(name: string): CachedToken {
  const now = Date.now();
  return {
    token: testToken({ accessToken: name, tokenType: 'Bearer', raw: {} }),
    obtainedAt: now,
    refreshAt: now + 1000,
    usableUntil: now + 2000,
  };
}

describe('MemoryTokenCache', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is an LRU bounded by maxEntries', () => {
    const cache = new MemoryTokenCache({ maxEntries: 3 });
    cache.set('a', entry('a'), 10_000);
    cache.set('b', entry('b'), 10_000);
    cache.set('c', entry('c'), 10_000);
    cache.get('a'); // a is now the most recent
    cache.set('d', entry('d'), 10_000);
    expect(cache.size).toBe(3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')?.token.accessToken).toBe('a');
    expect(cache.get('c')?.token.accessToken).toBe('c');
    expect(cache.get('d')?.token.accessToken).toBe('d');
  });

  it('defaults to 1000 entries', () => {
    const cache = new MemoryTokenCache();
    expect(cache.maxEntries).toBe(1000);
    for (let i = 0; i < 1500; i++) cache.set(`k${i}`, entry(`k${i}`), 10_000);
    expect(cache.size).toBe(1000);
    expect(cache.get('k0')).toBeUndefined();
    expect(cache.get('k1499')).toBeDefined();
  });

  it('never returns an expired entry', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const cache = new MemoryTokenCache();
    cache.set('a', entry('a'), 500);
    vi.setSystemTime(1_000_499);
    expect(cache.get('a')).toBeDefined();
    vi.setSystemTime(1_000_500);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('does not store entries with a ttl of zero or less', () => {
    const cache = new MemoryTokenCache();
    cache.set('a', entry('a'), 0);
    cache.set('b', entry('b'), -5);
    expect(cache.size).toBe(0);
  });

  it('delete and clear', () => {
    const cache = new MemoryTokenCache();
    cache.set('a', entry('a'), 1000);
    cache.set('b', entry('b'), 1000);
    cache.delete('a');
    expect(cache.get('a')).toBeUndefined();
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects maxEntries %s naming the option', (maxEntries) => {
    const error = thrownBy(() => new MemoryTokenCache({ maxEntries }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ option: 'maxEntries', code: 'M2M_INVALID_CONFIGURATION' });
  });
});
