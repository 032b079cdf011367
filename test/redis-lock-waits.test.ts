/**
 * A process waiting on another's lock paces its polls by how long a poll takes (issue 19): a fleet of
 * waiters does not saturate the process (or Redis) that the lock holder needs to finish. Fake timers (and a
 * fake performance clock) drive both the replies and the pacing.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type RedisClientLike, RedisTokenCache } from '../src/redis/index.js';
import { clientKey } from './helpers/tokens.js';

const waitKey = clientKey('urn:wait');

/** Answers every lock script with "another process holds the lock for `lockMs` more", after `rttMs`. */
function heldElsewhere(rttMs: number, lockMs: number) {
  let polls = 0;
  const client: RedisClientLike = {
    sendCommand: async (args: string[]) => {
      if (args[0] === 'EVAL') polls += 1;
      await new Promise((resolve) => setTimeout(resolve, rttMs));
      return [0, null, lockMs];
    },
  };
  return { client, polls: () => polls };
}

describe('lock waits are paced', () => {
  beforeEach(() => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance', 'Date'],
    });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('polls that take 50 ms come 75-225 ms apart (3 round trips, with jitter), not back to back', async () => {
    const redis = heldElsewhere(50, 30_000);
    const cache = new RedisTokenCache({ client: redis.client, timeoutMs: 1_000 });
    let polling = true;
    const loop = (async () => {
      // The client's side: acquireLock again as soon as it answers.
      while (polling) expect(await cache.acquireLock(waitKey, 30_000)).toBeUndefined();
    })();
    await vi.advanceTimersByTimeAsync(2_000);
    polling = false;
    await vi.advanceTimersByTimeAsync(1_000);
    await loop;
    // Back to back: 40 polls in 2 s. Paced, each poll costs 50 ms + 75 to 225 ms: 8 to 16.
    expect(redis.polls()).toBeGreaterThanOrEqual(8);
    expect(redis.polls()).toBeLessThanOrEqual(17);
  });

  it("never waits past the end of the holder's lock: a dead holder is taken over at once", async () => {
    // After a 1 s round trip the next poll would be paced 1.5 to 4 s later; the lock ends in 100 ms.
    const redis = heldElsewhere(1_000, 100);
    const cache = new RedisTokenCache({ client: redis.client, timeoutMs: 5_000 });
    const first = cache.acquireLock(waitKey, 30_000);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await first).toBeUndefined();
    const second = cache.acquireLock(waitKey, 30_000);
    await vi.advanceTimersByTimeAsync(100);
    expect(redis.polls()).toBe(2); // sent when the lock ended, not 1.5 s later
    await vi.advanceTimersByTimeAsync(1_000);
    await second;
  });
});
