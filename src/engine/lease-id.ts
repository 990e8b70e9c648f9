import { randomAlphanumeric } from './username.js';

/** Vault's lease ids end in 24 random characters after MOUNT/creds|sts/ROLE. */
export const LEASE_ID_RANDOM_LENGTH = 24;

export function newLeaseId(mount: string, path: 'creds' | 'sts', role: string): string {
  return `${mount}/${path}/${role}/${randomAlphanumeric(LEASE_ID_RANDOM_LENGTH)}`;
}

/**
 * Vault's revoke-prefix rule (expiration.go): a prefix that is a whole lease id
 * means that lease; otherwise it is a path and gets a trailing "/", so that
 * "aws/creds/web" never takes "aws/creds/web-admin" along.
 */
export function prefixPath(prefix: string): string {
  return prefix.endsWith('/') ? prefix : `${prefix}/`;
}
