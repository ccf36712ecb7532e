import { describe, expect, it } from '@jest/globals';
import { abortableSleep, Backoff, backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the cap (no jitter)', () => {
    const o = { initialMs: 100, maxMs: 1000, jitter: 0 };
    expect([0, 1, 2, 3, 4, 5].map((a) => backoffDelay(a, o))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('jitter 0.5 spans half to the full delay', () => {
    expect(backoffDelay(2, { initialMs: 100, random: () => 0 })).toBe(200);
    expect(backoffDelay(2, { initialMs: 100, random: () => 0.999999 })).toBe(400);
  });

  it('stays finite and capped after very many attempts', () => {
    expect(backoffDelay(10_000, { initialMs: 500, maxMs: 30_000, jitter: 0 })).toBe(30_000);
  });
});

describe('abortableSleep and Backoff', () => {
  it('an abort ends the sleep at once and next() reports it', async () => {
    const ac = new AbortController();
    const b = new Backoff({ initialMs: 60_000, jitter: 0 }, ac.signal);
    const started = Date.now();
    const pending = b.next();
    ac.abort();
    await expect(pending).resolves.toBe(false);
    expect(Date.now() - started).toBeLessThan(5_000);
    await expect(abortableSleep(60_000, ac.signal)).resolves.toBeUndefined();
  });

  it('counts attempts and reset() starts over', async () => {
    const b = new Backoff({ initialMs: 1, maxMs: 8, jitter: 0 });
    expect(b.peek()).toBe(1);
    await b.next();
    await b.next();
    expect(b.attempts).toBe(2);
    expect(b.peek()).toBe(4);
    b.reset();
    expect(b.peek()).toBe(1);
  });
});
