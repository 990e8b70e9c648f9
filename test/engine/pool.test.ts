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
