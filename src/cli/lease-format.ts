import { randomUUID } from 'node:crypto';
import type { IssuedCredential } from '../engine/index.js';
import { formatDuration } from '../duration.js';
import type { Lease } from '../model/types.js';

/**
 * Vault's outputs for creds, sts and lease commands: the Key/Value table of
 * `vault read`, and the JSON of `vault read -format=json`. Pure functions.
 */
export type OutputFormat = 'table' | 'json';
export const OUTPUT_FORMATS: OutputFormat[] = ['table', 'json'];

type Value = string | number | boolean | null | undefined;

/** Vault prints missing values as <nil>. */
function show(value: Value): string {
  return value === null || value === undefined ? '<nil>' : String(value);
}

/** Vault's table: Key and Value columns, dashes under the headers, 4 spaces between columns. */
export function keyValueTable(rows: [string, Value][]): string {
  return columns([['Key', 'Value'], ['---', '-----'], ...rows.map(([k, v]): string[] => [k, show(v)])]);
}

function columns(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd((widths[i] ?? 0) + 4))).join('').trimEnd()).join('\n') + '\n';
}

/** Seconds left on a lease, never negative. For STS this is the credential's real remaining lifetime. */
export function remainingSeconds(lease: Lease, now: number): number {
  return Math.max(0, Math.round((lease.expiresAt - now) / 1000));
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** `credops creds` / `credops sts`: what `vault read aws/creds/ROLE` prints. */
export function formatCredential(cred: IssuedCredential, now: number, format: OutputFormat): string {
  const duration = remainingSeconds(cred.lease, now);
  const token = cred.sessionToken ?? null;
  // Vault's data, and the assumed role's session ARN as Vault gives it (arn); session_token is credops's alias of security_token.
  const arn = cred.lease.credentialType === 'assumed_role' && cred.lease.resources.principalArn ? { arn: cred.lease.resources.principalArn } : {};
  const data = { access_key: cred.accessKeyId, secret_key: cred.secretAccessKey, security_token: token, ...arn, session_token: token };
  if (format === 'json') {
    return json({ request_id: randomUUID(), lease_id: cred.lease.leaseId, lease_duration: duration, renewable: cred.lease.renewable, data, warnings: null });
  }
  return keyValueTable([
    ['lease_id', cred.lease.leaseId],
    ['lease_duration', formatDuration(duration)],
    ['lease_renewable', cred.lease.renewable],
    ...Object.entries(data),
  ]);
}

/** `credops lease renew`: what `vault lease renew` prints. */
export function formatRenewal(lease: Lease, now: number, format: OutputFormat, warnings: string[]): string {
  const duration = remainingSeconds(lease, now);
  if (format === 'json') {
    return json({ request_id: randomUUID(), lease_id: lease.leaseId, lease_duration: duration, renewable: lease.renewable, data: null, warnings: warnings.length ? warnings : null });
  }
  return keyValueTable([
    ['lease_id', lease.leaseId],
    ['lease_duration', formatDuration(duration)],
    ['lease_renewable', lease.renewable],
  ]);
}

/** `credops lease lookup`: `vault lease lookup`'s keys, plus what credops knows of the lease. */
export function formatLookup(lease: Lease, now: number, format: OutputFormat): string {
  const data = {
    id: lease.leaseId,
    issue_time: iso(lease.issuedAt),
    expire_time: iso(lease.expiresAt),
    max_expire_time: iso(lease.maxExpiresAt),
    last_renewal: iso(lease.lastRenewedAt),
    renewable: lease.renewable,
    ttl: remainingSeconds(lease, now),
    credential_type: lease.credentialType,
    mount: lease.mount,
    role: lease.role,
    sink: lease.sink ?? null,
    revoke_time: iso(lease.revokeAt),
    access_key: lease.resources.accessKeyId ?? null,
    user_name: lease.resources.userName ?? null,
    principal_arn: lease.resources.principalArn ?? null,
  };
  if (format === 'json') {
    return json({ request_id: randomUUID(), lease_id: '', lease_duration: 0, renewable: false, data, warnings: null });
  }
  return keyValueTable(
    Object.entries(data)
      .map(([k, v]): [string, Value] => [k, k === 'ttl' ? formatDuration(v as number) : v])
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

/** `credops lease list`: one line per lease. */
export function formatLeaseList(leases: Lease[], now: number, format: OutputFormat): string {
  if (format === 'json') {
    return json(
      leases.map((l) => ({
        lease_id: l.leaseId,
        mount: l.mount,
        role: l.role,
        credential_type: l.credentialType,
        issue_time: iso(l.issuedAt),
        expire_time: iso(l.expiresAt),
        ttl: remainingSeconds(l, now),
        renewable: l.renewable,
        sink: l.sink ?? null,
      })),
    );
  }
  if (!leases.length) return 'No leases found.\n';
  return columns([
    ['Lease ID', 'Type', 'TTL', 'Renewable', 'Expires', 'Sink'],
    ...leases.map((l) => [l.leaseId, l.credentialType, formatDuration(remainingSeconds(l, now)), String(l.renewable), iso(l.expiresAt) ?? '', l.sink ?? '-']),
  ]);
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** `credops static-creds NAME`: what `vault read aws/static-creds/NAME` prints (no lease; keys sorted, as Vault's table and JSON are). */
export function formatStaticCreds(cred: { accessKeyId: string; secretAccessKey: string; expiration: Date }, format: OutputFormat): string {
  const data = { access_key: cred.accessKeyId, expiration: cred.expiration.toISOString(), secret_key: cred.secretAccessKey };
  if (format === 'json') return json({ request_id: randomUUID(), lease_id: '', lease_duration: 0, renewable: false, data, warnings: null });
  return keyValueTable(Object.entries(data));
}
