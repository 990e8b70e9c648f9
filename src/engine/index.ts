import type { AuditLog } from '../audit.js';
import { errorMessage, UserError } from '../errors.js';
import type { AppliedSnapshot, Lease } from '../model/types.js';
import { leaseDueAt, type LeaseFilter } from '../state/store.js';
import type { Asker, CredentialKind, IssuedCredential, IssueRequest } from './credential-type.js';
import { mountConfig, REVOKE_CONCURRENCY, type EngineDeps } from './deps.js';
import { hasInterruptedRotation, recoverRootRotations } from './root.js';
import { isLive, issueJournal, LIVE_ISSUANCE_MS, recoverJournal, type RecoverResult } from './journal.js';
import { newLeaseId, prefixPath } from './lease-id.js';
import { forEachBounded } from './pool.js';
import { credentialKind, credentialKindFor } from './registry.js';
import { waitUntilAccepted } from './usable.js';

export type { Asker, IssuedCredential, IssueRequest } from './credential-type.js';
export type { RecoverResult } from './journal.js';
export { DEFAULT_LEASE_SECONDS, mountConfig, REVOKE_CONCURRENCY, type EngineDeps } from './deps.js';

export { USABLE_FIRST_WAIT_MS, USABLE_MAX_WAIT_MS, USABLE_TIMEOUT_MS } from './usable.js';

export interface RevokeOutcome {
  leaseId: string;
  /** False when AWS could not be made to refuse the credential (an STS credential credops could not deny): it stays valid until validUntil. */
  invalidated: boolean;
  validUntil?: number;
  /** STS: the inline policy whose explicit Deny now refuses the credential. */
  deniedBy?: string;
  /** When not invalidated: why. */
  reason?: string;
}

export interface BulkRevokeResult {
  revoked: string[];
  failed: { leaseId: string; error: string }[];
  /** Revoked STS leases whose AWS credential could not be denied and stays valid until it expires (a subset of revoked). */
  stillValid: string[];
}

export interface BulkRevokeOptions {
  concurrency?: number;
  onProgress?: (done: number, total: number, leaseId: string) => void;
}

/**
 * The AWS secrets engine: issues, renews and revokes credentials of every
 * type, with the journal that makes issuance crash-safe. Every method that
 * writes (and recover()) expects the caller to hold the state's writer lock.
 */
export class Engine {
  constructor(private readonly deps: EngineDeps) {}

  /** The audit log the engine writes to, for work done around it (drift repair). */
  get audit(): AuditLog {
    return this.deps.audit;
  }

  /**
   * Rolls back what a crashed run left half-created (journal.ts). Every command
   * that touches leases calls it first, holding the writer lock.
   */
  async recover(): Promise<RecoverResult> {
    const { state, clients, clock, audit } = this.deps;
    const applied = await state.getApplied();
    const result = await recoverJournal({
      state,
      clients,
      clock,
      mount: (name) => mountConfig(applied, name),
      onRolledBack: (entry, outcome) =>
        audit.record({
          operation: 'recover',
          outcome: 'ok',
          mount: entry.mount,
          role: entry.role,
          lease_id: entry.leaseId,
          details: { kind: entry.kind, found_in_aws: outcome === 'deleted', ...userNameOf(entry.data) },
        }),
    });
    const mounts = applied.mounts.length ? applied.mounts : [mountConfig(applied, 'aws')];
    try {
      for (const r of await recoverRootRotations({ state, clients }, mounts)) {
        result.rootKeysDeleted.push(...r.deleted);
        audit.record({ operation: 'rotate-root', outcome: 'ok', mount: r.mount, details: { recovered_interrupted_rotation: true, cleaned_up: r.deleted.join(',') || undefined } });
      }
    } catch (err) {
      result.failed.push({ id: 'rotate-root', leaseId: 'config/rotate-root', error: errorMessage(err) });
    }
    for (const f of result.failed) {
      audit.record({ operation: 'recover', outcome: 'error', lease_id: f.leaseId, error: f.error });
    }
    return result;
  }

  /** Whether recover() has anything to do: a journal entry, or an interrupted rotate-root. */
  async needsRecovery(): Promise<boolean> {
    const { state, clock } = this.deps;
    const now = clock.now();
    if ((await state.listJournal()).some((e) => !isLive(e, now))) return true;
    const applied = await state.getApplied();
    return hasInterruptedRotation(state, applied.mounts.length ? applied.mounts : [mountConfig(applied, 'aws')]);
  }

  async issue(req: IssueRequest): Promise<IssuedCredential> {
    const { state, clients, clock, audit } = this.deps;
    const base = { mount: req.mount, role: req.role, ...(req.sink ? { sink: req.sink } : {}) };
    try {
      const applied = await this.applied();
      const role = applied.roles.find((r) => r.mount === req.mount && r.name === req.role);
      if (!role) throw roleNotFound(applied, req.mount, req.role);
      const mount = mountConfig(applied, req.mount);
      const kind = credentialKindFor(role, req.path);
      const leaseId = newLeaseId(mount.name, req.path, role.name);
      // A server's issuance holds no lock: its journal entry says how long recovery must leave it alone.
      const liveUntil = req.asker ? clock.now() + LIVE_ISSUANCE_MS : undefined;
      const journal = issueJournal(state, clock, { leaseId, mount: mount.name, role: role.name, kind: kind.type, ...(liveUntil !== undefined ? { liveUntil } : {}) });
      const { credential, journalId } = await kind.issue({ role, mount, request: req, leaseId, clients, clock, journal });
      if (req.asker) credential.lease = boundToAsker(credential.lease, req.asker);
      if (journalId && liveUntil !== undefined && clock.now() >= liveUntil) {
        // Recovery may be rolling this entry back right now: the credential is not handed out.
        throw new Error(`issuing ${leaseId} took longer than ${LIVE_ISSUANCE_MS / 1000}s; it is rolled back by the next recovery, ask again`);
      }
      if (journalId) await state.completeJournal(journalId, credential.lease);
      else await state.putLease(credential.lease);
      const { lease } = credential;
      audit.record({
        operation: 'issue',
        outcome: 'ok',
        ...base,
        lease_id: lease.leaseId,
        details: {
          credential_type: lease.credentialType,
          access_key_id: credential.accessKeyId,
          ttl: Math.round((lease.expiresAt - lease.issuedAt) / 1000),
          ...(lease.resources.userName ? { user_name: lease.resources.userName } : {}),
          ...(lease.resources.principalArn ? { principal_arn: lease.resources.principalArn } : {}),
          ...(req.asker ? { token_accessor: req.asker.accessor } : {}),
        },
      });
      return credential;
    } catch (err) {
      audit.record({ operation: 'issue', outcome: 'error', ...base, error: errorMessage(err) });
      throw err;
    }
  }

  /**
   * Vault's renew: the lease now ends `increment` (default the mount's lease)
   * from now, never past its maxExpiresAt. No AWS call: an IAM access key has
   * no expiry of its own; the lease is what ends it. STS leases are refused.
   */
  async renew(leaseId: string, incrementSeconds?: number, capAt?: number): Promise<Lease> {
    const { state, clock, audit } = this.deps;
    const lease = await this.lookup(leaseId);
    try {
      const kind = kindOf(lease);
      if (!lease.renewable || !kind.renewable) {
        throw new UserError(
          `lease is not renewable: ${leaseId} is an STS credential (${lease.credentialType}), and AWS cannot extend one; ` +
            `request a new one with \`credops sts ${lease.role} --mount ${lease.mount}\``,
        );
      }
      const now = clock.now();
      if (lease.expiresAt <= now) throw new UserError(`lease ${leaseId} has expired; it can no longer be renewed`);
      const increment = incrementSeconds ?? mountConfig(await this.applied(), lease.mount).lease;
      // capAt: the asking token's expiry (credops server), which a lease never outlives.
      const renewed: Lease = { ...lease, expiresAt: Math.min(now + increment * 1000, lease.maxExpiresAt, capAt ?? Infinity), lastRenewedAt: now };
      await state.putLease(renewed);
      audit.record({
        operation: 'renew',
        outcome: 'ok',
        mount: lease.mount,
        role: lease.role,
        lease_id: leaseId,
        details: { increment, ttl: Math.round((renewed.expiresAt - now) / 1000), capped: renewed.expiresAt < now + increment * 1000 },
      });
      return renewed;
    } catch (err) {
      audit.record({ operation: 'renew', outcome: 'error', mount: lease.mount, role: lease.role, lease_id: leaseId, error: errorMessage(err) });
      throw err;
    }
  }

  async revoke(leaseId: string): Promise<RevokeOutcome> {
    return this.revokeLease(await this.lookup(leaseId));
  }

  /** Revokes every lease under a Vault-style prefix (`aws/creds/ROLE`), at most `concurrency` at a time. */
  async revokePrefix(prefix: string, opts: BulkRevokeOptions = {}): Promise<BulkRevokeResult> {
    if (prefix.trim() === '') throw new UserError('revoke --prefix needs a prefix, such as aws/creds/ROLE or aws/');
    return this.revokeLeases(await this.under(prefix), opts);
  }

  /**
   * The leases under a prefix, by Vault's rule for `lease list` and `lease
   * revoke -prefix` alike (lease-id.ts prefixPath): a whole lease id is that
   * lease, anything else a path, so aws/creds/oncal is not aws/creds/oncall.
   */
  async under(prefix: string): Promise<Lease[]> {
    const exact = await this.deps.state.getLease(prefix);
    if (exact) return [exact];
    const path = prefixPath(prefix);
    return (await this.deps.state.listLeases({ prefix: path })).filter((l) => l.leaseId.startsWith(path)).sort((a, b) => a.leaseId.localeCompare(b.leaseId));
  }

  /** Revokes every lease past its expiry, or past the revokeAt of a replaced credential. */
  async tidy(opts: BulkRevokeOptions = {}): Promise<BulkRevokeResult> {
    const now = this.deps.clock.now();
    const candidates = await this.deps.state.listLeases({ dueBy: now });
    // The expiry index may lag behind (DynamoDB's secondary indexes are eventually
    // consistent): each candidate is read again, so a lease renewed or revoked since is left alone.
    const current = await Promise.all(candidates.map((l) => this.deps.state.getLease(l.leaseId)));
    const due = current.filter((l): l is Lease => l !== undefined && leaseDueAt(l) <= now);
    return this.revokeLeases(due, opts);
  }

  /** The applied roles and mounts, from the deps' source when they give one. */
  private applied(): Promise<AppliedSnapshot> {
    return this.deps.applied?.() ?? this.deps.state.getApplied();
  }

  async lookup(leaseId: string): Promise<Lease> {
    const lease = await this.deps.state.getLease(leaseId);
    if (!lease) throw new UserError(`lease not found: ${leaseId} (see credops lease list)`);
    return lease;
  }

  async list(filter: LeaseFilter = {}): Promise<Lease[]> {
    const leases = await this.deps.state.listLeases(filter);
    return leases.sort((a, b) => a.leaseId.localeCompare(b.leaseId));
  }

  /**
   * Waits until AWS accepts the credential (GetCallerIdentity signed with it),
   * for IAM's eventual consistency: a sink publishes a new key only once it works.
   */
  async waitUntilUsable(cred: IssuedCredential, mount: string, opts: { timeoutMs?: number } = {}): Promise<void> {
    const { clients, clock, state } = this.deps;
    const config = mountConfig(await state.getApplied(), mount);
    const sts = clients.sts(config, {
      accessKeyId: cred.accessKeyId,
      secretAccessKey: cred.secretAccessKey,
      ...(cred.sessionToken ? { sessionToken: cred.sessionToken } : {}),
    });
    await waitUntilAccepted(sts, clock, {
      what: `the new credential of ${cred.lease.leaseId}`,
      context: { mount, role: cred.lease.role, operation: 'GetCallerIdentity with the new credential' },
      timeoutMs: opts.timeoutMs,
    });
  }

  /** Revokes these leases (as read), at most `concurrency` at a time; one failure does not stop the others. */
  async revokeLeases(leases: Lease[], opts: BulkRevokeOptions = {}): Promise<BulkRevokeResult> {
    const result: BulkRevokeResult = { revoked: [], failed: [], stillValid: [] };
    const applied = await this.applied();
    let done = 0;
    await forEachBounded(leases, opts.concurrency ?? REVOKE_CONCURRENCY, async (lease) => {
      try {
        const outcome = await this.revokeLease(lease, applied);
        result.revoked.push(lease.leaseId);
        if (!outcome.invalidated) result.stillValid.push(lease.leaseId);
      } catch (err) {
        result.failed.push({ leaseId: lease.leaseId, error: errorMessage(err) });
      }
      opts.onProgress?.(++done, leases.length, lease.leaseId);
    });
    return result;
  }

  /**
   * iam_user: the user and its key are deleted (revoke.ts), then the lease.
   * STS: an explicit Deny for the session (sts-revoke.ts), then the lease; when
   * AWS will not let credops place it, the lease is removed all the same and the
   * audit records that the credential works until it expires, and why.
   */
  private async revokeLease(lease: Lease, applied?: AppliedSnapshot): Promise<RevokeOutcome> {
    const { state, clients, clock, audit } = this.deps;
    const base = { mount: lease.mount, role: lease.role, lease_id: lease.leaseId, ...(lease.sink ? { sink: lease.sink } : {}) };
    try {
      const mount = mountConfig(applied ?? (await this.applied()), lease.mount);
      const { invalidated, deniedBy, reason } = await kindOf(lease).revoke({ lease, mount, clients, clock });
      await state.deleteLease(lease.leaseId);
      // The lease's places in credops server's caps; a place lost to a crash here is found by the server's recount.
      for (const counter of lease.counters ?? []) await state.addToCounter(counter, -1, { min: 0 });
      const validUntil = invalidated ? undefined : lease.expiresAt;
      audit.record({
        operation: 'revoke',
        outcome: 'ok',
        ...base,
        details: {
          credential_type: lease.credentialType,
          aws_credential_invalidated: invalidated,
          ...(deniedBy !== undefined ? { denied_by: deniedBy } : {}),
          ...(validUntil !== undefined
            ? {
                aws_credential_valid_until: new Date(validUntil).toISOString(),
                note: `the STS credential stays valid until it expires${reason ? `: ${reason}` : ''}`,
              }
            : {}),
        },
      });
      return {
        leaseId: lease.leaseId,
        invalidated,
        ...(validUntil !== undefined ? { validUntil } : {}),
        ...(deniedBy !== undefined ? { deniedBy } : {}),
        ...(reason !== undefined ? { reason } : {}),
      };
    } catch (err) {
      audit.record({ operation: 'revoke', outcome: 'error', ...base, error: errorMessage(err) });
      throw err;
    }
  }
}


/** The lease of a server's issuance: never past the asking token's expiry, holding its cap counters. */
function boundToAsker(lease: Lease, asker: Asker): Lease {
  return {
    ...lease,
    expiresAt: Math.min(lease.expiresAt, asker.expiresAt),
    maxExpiresAt: Math.min(lease.maxExpiresAt, asker.maxExpiresAt),
    token: asker.accessor,
    ...(asker.counters.length ? { counters: asker.counters } : {}),
  };
}

function kindOf(lease: Lease): CredentialKind {
  const kind = credentialKind(lease.credentialType);
  if (!kind) throw new Error(`lease ${lease.leaseId} has unknown credential type "${lease.credentialType}"`);
  return kind;
}

function roleNotFound(applied: AppliedSnapshot, mount: string, role: string): UserError {
  const mounts = [...new Set([...applied.mounts.map((m) => m.name), ...applied.roles.map((r) => r.mount)])];
  if (!mounts.includes(mount)) {
    return new UserError(`no mount "${mount}" in the applied state${mounts.length ? `; mounts: ${mounts.join(', ')}` : ' (run credops reconcile first)'}`);
  }
  return new UserError(`role "${role}" not found in mount "${mount}" (roles are applied from git by credops reconcile)`);
}

function userNameOf(data: Record<string, unknown>): { user_name?: string } {
  return typeof data.userName === 'string' ? { user_name: data.userName } : {};
}

