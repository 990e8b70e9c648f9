import {
  AddUserToGroupCommand,
  AttachUserPolicyCommand,
  DetachUserPolicyCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  paginateListAccessKeys,
  paginateListAttachedUserPolicies,
  paginateListGroupsForUser,
  PutUserPolicyCommand,
  RemoveUserFromGroupCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import type { AwsClients } from '../aws/clients.js';
import type { Clock } from '../clock.js';
import { awsCall, isNoSuchEntity } from '../engine/aws-errors.js';
import { UserError } from '../errors.js';
import { mountConfig, type Engine } from '../engine/index.js';
import { ROLLBACK_MIN_AGE_MS } from '../engine/journal.js';
import { forEachBounded } from '../engine/pool.js';
import type { AppliedSnapshot, DriftItem, DriftKind, Lease, Plan, PolicyDocument, RoleSpec } from '../model/types.js';
import { canonicalJson, normalisePolicy } from '../plan/normalise.js';
import type { StateStore } from '../state/store.js';
import { roleFingerprint } from './lifecycle.js';

/**
 * Drift (Terraform's refresh): each live iam_user lease is checked against
 * IAM, read-only: its user exists, its access key exists and is Active, its
 * inline policy is its role's policy_document, and its managed policies and
 * groups are exactly those the lease recorded. STS leases have nothing in AWS
 * to check. `plan --refresh` shows what differs; reconcile repairs it (below).
 */

/** Users checked at once: hides IAM's latency without provoking its throttling (as the engine's revocations). */
export const DRIFT_CHECK_CONCURRENCY = 8;

/**
 * IAM is eventually consistent: a user or key created moments ago can answer
 * NoSuchEntity, and a policy just put can read back as the previous one. A
 * lease younger than this is not checked, or a credential just issued would be
 * taken for deleted and revoked. The same five minutes as journal recovery.
 */
export const DRIFT_MIN_AGE_MS = ROLLBACK_MIN_AGE_MS;

/** One change that brings a user back to what its lease recorded. */
export type RestoreStep =
  | { op: 'put-inline'; policyName: string; document: string }
  | { op: 'attach'; policyArn: string }
  | { op: 'detach'; policyArn: string }
  | { op: 'add-group'; group: string }
  | { op: 'remove-group'; group: string };

export interface LeaseDrift {
  lease: Lease;
  items: DriftItem[];
  /**
   * A user or key deleted or deactivated: the credential is dead, so the lease
   * is revoked (what remains is deleted) and its sink, if any, issued afresh.
   * Permissions changed: the user is put back as recorded, the key kept.
   */
  repair: { action: 'revoke' } | { action: 'restore'; steps: RestoreStep[] };
}

export interface DriftReport {
  drifted: LeaseDrift[];
  /** Leases checked against AWS. */
  checked: number;
  /** Live leases not checked: STS ones, and iam_user ones younger than DRIFT_MIN_AGE_MS. */
  skipped: number;
  failed: { leaseId: string; error: string }[];
}

export interface DriftDeps {
  state: StateStore;
  clients: AwsClients;
  clock: Clock;
  concurrency?: number;
}

export async function detectDrift(deps: DriftDeps): Promise<DriftReport> {
  const { state, clients, clock } = deps;
  const now = clock.now();
  const [applied, leases] = await Promise.all([state.getApplied(), state.listLeases()]);
  const live = leases.filter((l) => l.expiresAt > now).sort((a, b) => a.leaseId.localeCompare(b.leaseId));
  const due = live.filter((l) => l.credentialType === 'iam_user' && l.resources.userName && now - l.issuedAt >= DRIFT_MIN_AGE_MS);
  const report: DriftReport = { drifted: [], checked: due.length, skipped: live.length - due.length, failed: [] };

  const found: (LeaseDrift | undefined)[] = [];
  await forEachBounded(due, deps.concurrency ?? DRIFT_CHECK_CONCURRENCY, async (lease, index) => {
    try {
      const role = applied.roles.find((r) => r.mount === lease.mount && r.name === lease.role);
      const expected = role?.policy_document && (await policyIsKnown(state, applied, lease, role)) ? role.policy_document : undefined;
      found[index] = await checkLease(clients.iam(mountConfig(applied, lease.mount)), lease, role, expected);
    } catch (err) {
      report.failed.push({ leaseId: lease.leaseId, error: message(err) });
    }
  });
  report.drifted = found.filter((d): d is LeaseDrift => d !== undefined);
  return report;
}

export function driftItems(report: DriftReport): DriftItem[] {
  return report.drifted.flatMap((d) => d.items);
}

/** The plan with what `detectDrift` found; a lease that could not be checked fails the plan, as a failed refresh fails Terraform's. */
export async function refreshPlan(plan: Plan, deps: DriftDeps): Promise<Plan> {
  const report = await detectDrift(deps);
  if (report.failed.length) {
    const [first] = report.failed;
    throw new UserError(`checking ${report.failed.length} lease${report.failed.length === 1 ? '' : 's'} for drift failed; first, ${first!.leaseId}: ${first!.error}`);
  }
  return { ...plan, drift: driftItems(report) };
}

/**
 * The inline policy document a lease was issued with is not recorded, only
 * its role's. It is compared with the role only when the role cannot have
 * changed since the lease was issued: the lease is younger than the last apply,
 * or it is the credential its sink holds and the sink recorded the same role
 * fingerprint. Otherwise a role changed in git would look like drift, and
 * "repairing" it would write to AWS on every reconcile of the same commit.
 */
async function policyIsKnown(state: StateStore, applied: AppliedSnapshot, lease: Lease, role: RoleSpec): Promise<boolean> {
  if (applied.appliedAt !== undefined && lease.issuedAt >= applied.appliedAt) return true;
  if (!lease.sink) return false;
  const published = (await state.getSinkStatus(lease.sink))?.published;
  return published?.leaseId === lease.leaseId && published.role === roleFingerprint(role);
}

async function checkLease(iam: IAMClient, lease: Lease, role: RoleSpec | undefined, expected: PolicyDocument | undefined): Promise<LeaseDrift | undefined> {
  const { resources } = lease;
  const UserName = resources.userName!;
  const item = (kind: DriftKind, detail: string): DriftItem => ({ leaseId: lease.leaseId, ...(lease.sink ? { sink: lease.sink } : {}), kind, detail });
  const call = <T>(operation: string, run: () => Promise<T>) => awsCall({ mount: lease.mount, role: lease.role, operation }, run);
  const list = async <P>(operation: string, pages: AsyncIterable<P>, each: (page: P) => void) =>
    call(operation, async () => {
      for await (const page of pages) each(page);
    });
  const revoke = (kind: DriftKind, detail: string): LeaseDrift => ({ lease, items: [item(kind, detail)], repair: { action: 'revoke' } });
  const userGone = () => revoke('user_deleted', `IAM user ${UserName} no longer exists`);

  try {
    await call('GetUser', () => iam.send(new GetUserCommand({ UserName })));

    if (resources.accessKeyId) {
      let status: string | undefined;
      await list('ListAccessKeys', paginateListAccessKeys({ client: iam }, { UserName }), (page) => {
        for (const key of page.AccessKeyMetadata ?? []) if (key.AccessKeyId === resources.accessKeyId) status = key.Status ?? 'Active';
      });
      if (status === undefined) return revoke('key_deleted', `access key ${resources.accessKeyId} of IAM user ${UserName} no longer exists`);
      if (status !== 'Active') return revoke('key_inactive', `access key ${resources.accessKeyId} of IAM user ${UserName} is ${status}`);
    }

    const items: DriftItem[] = [];
    const steps: RestoreStep[] = [];
    const PolicyName = resources.inlinePolicyName;
    if (PolicyName && role?.policy_document) {
      const restore: RestoreStep = { op: 'put-inline', policyName: PolicyName, document: JSON.stringify(role.policy_document) };
      try {
        const out = await call('GetUserPolicy', () => iam.send(new GetUserPolicyCommand({ UserName, PolicyName })));
        if (expected && !samePolicy(out.PolicyDocument, expected)) {
          items.push(item('policy_changed', `inline policy ${PolicyName} of IAM user ${UserName} differs from ${role.mount}/roles/${role.name}'s policy_document`));
          steps.push(restore);
        }
      } catch (err) {
        if (!isNoSuchEntity(err)) throw err;
        await call('GetUser', () => iam.send(new GetUserCommand({ UserName }))); // the policy is gone, or the whole user?
        items.push(item('policy_changed', `inline policy ${PolicyName} of IAM user ${UserName} was deleted`));
        steps.push(restore);
      }
    }

    const attached = new Set<string>();
    await list('ListAttachedUserPolicies', paginateListAttachedUserPolicies({ client: iam }, { UserName }), (page) => {
      for (const p of page.AttachedPolicies ?? []) if (p.PolicyArn) attached.add(p.PolicyArn);
    });
    const recordedArns = new Set(resources.attachedPolicyArns ?? []);
    for (const policyArn of recordedArns) {
      if (attached.has(policyArn)) continue;
      items.push(item('policy_detached', `managed policy ${policyArn} was detached from IAM user ${UserName}`));
      steps.push({ op: 'attach', policyArn });
    }
    for (const policyArn of attached) {
      if (recordedArns.has(policyArn)) continue;
      items.push(item('policy_changed', `managed policy ${policyArn} was attached to IAM user ${UserName} outside credops`));
      steps.push({ op: 'detach', policyArn });
    }

    const groups = new Set<string>();
    await list('ListGroupsForUser', paginateListGroupsForUser({ client: iam }, { UserName }), (page) => {
      for (const g of page.Groups ?? []) if (g.GroupName) groups.add(g.GroupName);
    });
    const recordedGroups = new Set(resources.groups ?? []);
    for (const group of recordedGroups) {
      if (groups.has(group)) continue;
      items.push(item('group_removed', `IAM user ${UserName} was removed from group ${group}`));
      steps.push({ op: 'add-group', group });
    }
    for (const group of groups) {
      if (recordedGroups.has(group)) continue;
      items.push(item('policy_changed', `IAM user ${UserName} was added to group ${group} outside credops`));
      steps.push({ op: 'remove-group', group });
    }
    return items.length ? { lease, items, repair: { action: 'restore', steps } } : undefined;
  } catch (err) {
    // Any read answering NoSuchEntity for the user means it went while we looked.
    if (isNoSuchEntity(err)) return userGone();
    throw err;
  }
}

/** IAM returns policy documents URL-encoded (RFC 3986); an AWS-compatible endpoint may not. */
function samePolicy(raw: string | undefined, expected: PolicyDocument): boolean {
  const live = parsePolicy(raw);
  return live !== undefined && canonicalJson(normalisePolicy(live)) === canonicalJson(normalisePolicy(expected));
}

function parsePolicy(raw: string | undefined): PolicyDocument | undefined {
  if (raw === undefined) return undefined;
  for (const text of [safeDecode(raw), raw]) {
    try {
      const doc = JSON.parse(text ?? '') as unknown;
      if (doc !== null && typeof doc === 'object' && 'Statement' in doc) return doc as PolicyDocument;
    } catch {
      // not this form
    }
  }
  return undefined;
}

function safeDecode(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

// ---- repair (reconcile) ------------------------------------------------------

export type DriftEvent =
  | { kind: 'revoke'; leaseId: string; reason: string; done: number; total: number; error?: string }
  | { kind: 'repair'; leaseId: string; detail: string; done: number; total: number; error?: string };

export interface RepairDeps {
  state: StateStore;
  clients: AwsClients;
  engine: Pick<Engine, 'revoke' | 'audit'>;
  log: (event: DriftEvent) => void;
}

export interface RepairResult {
  /** Leases revoked because their user or key was gone or disabled. */
  revoked: string[];
  /** Leases whose user was put back as recorded. */
  restored: string[];
  failed: { leaseId: string; error: string }[];
}

/**
 * Repairs what credops owns, one lease at a time. A dead credential is revoked
 * through the engine (NoSuchEntity counts as done), which drops the lease from
 * the state: the sink lifecycle that runs next finds its sink without a live
 * lease and publishes a fresh one. Changed permissions are put back as the
 * lease recorded them, with the role's policy_document.
 */
export async function repairDrift(deps: RepairDeps, drifted: LeaseDrift[]): Promise<RepairResult> {
  const result: RepairResult = { revoked: [], restored: [], failed: [] };
  const applied = await deps.state.getApplied();
  let done = 0;
  for (const d of drifted) {
    done++;
    const { leaseId } = d.lease;
    const what = d.items.map((i) => i.detail).join('; ');
    try {
      if (d.repair.action === 'revoke') {
        await deps.engine.revoke(leaseId);
        result.revoked.push(leaseId);
        deps.log({ kind: 'revoke', leaseId, reason: `drift: ${what}`, done, total: drifted.length });
      } else {
        const audited = { operation: 'repair' as const, mount: d.lease.mount, role: d.lease.role, lease_id: leaseId, details: { drift: what } };
        try {
          await restore(deps.clients.iam(mountConfig(applied, d.lease.mount)), d.lease, d.repair.steps);
        } catch (err) {
          deps.engine.audit.record({ ...audited, outcome: 'error', error: message(err) });
          throw err;
        }
        deps.engine.audit.record({ ...audited, outcome: 'ok' });
        result.restored.push(leaseId);
        deps.log({ kind: 'repair', leaseId, detail: what, done, total: drifted.length });
      }
    } catch (err) {
      const error = message(err);
      result.failed.push({ leaseId, error });
      deps.log(
        d.repair.action === 'revoke'
          ? { kind: 'revoke', leaseId, reason: `drift: ${what}`, done, total: drifted.length, error }
          : { kind: 'repair', leaseId, detail: what, done, total: drifted.length, error },
      );
    }
  }
  return result;
}

async function restore(iam: IAMClient, lease: Lease, steps: RestoreStep[]): Promise<void> {
  const UserName = lease.resources.userName!;
  const call = (operation: string, run: () => Promise<unknown>) => awsCall({ mount: lease.mount, role: lease.role, operation }, run);
  for (const step of steps) {
    switch (step.op) {
      case 'put-inline':
        await call('PutUserPolicy', () => iam.send(new PutUserPolicyCommand({ UserName, PolicyName: step.policyName, PolicyDocument: step.document })));
        break;
      case 'attach':
        await call('AttachUserPolicy', () => iam.send(new AttachUserPolicyCommand({ UserName, PolicyArn: step.policyArn })));
        break;
      case 'detach':
        await call('DetachUserPolicy', () => iam.send(new DetachUserPolicyCommand({ UserName, PolicyArn: step.policyArn })));
        break;
      case 'add-group':
        await call('AddUserToGroup', () => iam.send(new AddUserToGroupCommand({ UserName, GroupName: step.group })));
        break;
      case 'remove-group':
        await call('RemoveUserFromGroup', () => iam.send(new RemoveUserFromGroupCommand({ UserName, GroupName: step.group })));
        break;
    }
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
