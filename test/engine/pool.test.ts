import { describe, expect, it } from 'vitest';
import { forEachBounded } from '../../src/engine/pool.js';
import { prefixPath } from '../../src/engine/lease-id.js';

describe('forEachBounded', () => {
  it('runs every item once with at most `limit` in flight', async () => {
    let inFlight = 0;
    let max = 0;
    const seen: number[] = [];
    await forEachBounded([...Array(20).keys()], 4, async (item) => {
      max = Math.max(max, ++inFlight);
      await new Promise((r) => setTimeout(r, 1 + (item % 3)));
      seen.push(item);
      inFlight--;
    });
    expect(max).toBe(4);
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
  });

  it('runs every item even when some fail, then rejects with what failed', async () => {
    const seen: number[] = [];
    const one = forEachBounded([1, 2, 3, 4], 2, async (item) => {
      seen.push(item);
      if (item === 1) throw new Error('item 1 failed');
    });
    await expect(one).rejects.toThrow('item 1 failed');
    expect(seen.sort()).toEqual([1, 2, 3, 4]);

    const several = forEachBounded([1, 2, 3, 4], 1, async (item) => {
      if (item % 2 === 0) throw new Error(`item ${item} failed`);
    });
    await expect(several).rejects.toMatchObject({ name: 'AggregateError', errors: [new Error('item 2 failed'), new Error('item 4 failed')] });
  });

  it('handles no items', async () => {
    await expect(forEachBounded([], 8, async () => {})).resolves.toBeUndefined();
  });
});

describe("Vault's revoke-prefix path", () => {
  it('adds the trailing slash so a role name never matches a longer one', () => {
    expect(prefixPath('aws/creds/web')).toBe('aws/creds/web/');
    expect(prefixPath('aws/')).toBe('aws/');
  });
});
