import { STS_DEFAULT_TTL_SECONDS } from '../limits.js';

/**
 * STS TTL rule (DESIGN.md): --ttl, else the role's default_sts_ttl, else 3600 s;
 * capped at max_sts_ttl when the role sets one.
 */
export function stsTtl(requested: number | undefined, role: { default_sts_ttl?: number; max_sts_ttl?: number }): number {
  const ttl = requested ?? (role.default_sts_ttl || STS_DEFAULT_TTL_SECONDS);
  return role.max_sts_ttl ? Math.min(ttl, role.max_sts_ttl) : ttl;
}
