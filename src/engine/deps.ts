import type { AuditLog } from '../audit.js';
import type { AwsClients } from '../aws/clients.js';
import type { Clock } from '../clock.js';
import type { AppliedSnapshot, MountConfig } from '../model/types.js';
import type { StateStore } from '../state/store.js';

/** What the engine acts with: the state, the AWS clients, a clock and the audit log. */
export interface EngineDeps {
  state: StateStore;
  clients: AwsClients;
  clock: Clock;
  audit: AuditLog;
  /**
   * Where issue, renew and revoke read the applied roles and mounts, when not
   * straight from the state: credops server answers from a copy it refreshes
   * (every 2 s), not one state read per request. Recovery always reads the state.
   */
  applied?: () => Promise<AppliedSnapshot>;
}

/** Leases revoked at once by revokePrefix and tidy: enough to hide IAM's latency, few enough not to provoke its throttling. */
export const REVOKE_CONCURRENCY = 8;
/** Vault's config/lease default, for a mount the state has no config for. */
export const DEFAULT_LEASE_SECONDS = 768 * 3600;

/** A mount's config as applied, or Vault's defaults for a mount the state does not know. */
export function mountConfig(applied: AppliedSnapshot, name: string): MountConfig {
  return applied.mounts.find((m) => m.name === name) ?? { name, lease: DEFAULT_LEASE_SECONDS, lease_max: DEFAULT_LEASE_SECONDS, roles: '' };
}
