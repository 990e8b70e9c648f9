import { describe, expect, it } from 'vitest';
import { stsTtl } from '../../src/engine/ttl.js';

// DESIGN.md: --ttl, else the role's default_sts_ttl, else 3600 s; capped at max_sts_ttl.
describe('stsTtl', () => {
  it('uses the requested ttl first', () => {
    expect(stsTtl(900, { default_sts_ttl: 1800 })).toBe(900);
  });

  it("falls back to the role's default_sts_ttl, then to Vault's 3600 s", () => {
    expect(stsTtl(undefined, { default_sts_ttl: 1800 })).toBe(1800);
    expect(stsTtl(undefined, {})).toBe(3600);
    // Vault stores an unset default as 0: it means "not set".
    expect(stsTtl(undefined, { default_sts_ttl: 0 })).toBe(3600);
  });

  it('caps at max_sts_ttl when the role sets one', () => {
    expect(stsTtl(7200, { max_sts_ttl: 3600 })).toBe(3600);
    expect(stsTtl(undefined, { max_sts_ttl: 1800 })).toBe(1800);
    expect(stsTtl(7200, { max_sts_ttl: 0 })).toBe(7200);
  });
});
