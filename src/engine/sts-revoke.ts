import { createHash } from 'node:crypto';
import {
  DeleteRolePolicyCommand,
  DeleteUserPolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import { IAM_ROLE_INLINE_POLICIES_MAX_CHARS, IAM_USER_INLINE_POLICY_MAX_CHARS } from '../limits.js';
import { errorMessage, UserError } from '../errors.js';
import type { Lease } from '../model/types.js';
import { awsCall, isAwsError, isNoSuchEntity } from './aws-errors.js';
import type { RevokeContext, RevokeResult } from './credential-type.js';

/**
 * Revoking an STS credential the way AWS documents it ("Disabling permissions
 * for temporary security credentials", "Revoking IAM role temporary security
 * credentials" in the IAM User Guide): STS cannot cancel a token, but IAM
 * evaluates the principal's policies on every request made with it, so an
 * explicit Deny of everything, conditioned on the session's aws:userid, makes
 * AWS refuse that session and only that one. The Deny lives in one inline
 * policy per principal (the role of an assumed-role session; the IAM user
 * that called GetFederationToken or GetSessionToken), one statement per
 * revoked session, each named after its session's expiry so that later
 * revocations drop the statements that no longer deny anything.
 *
 * IAM is eventually consistent: a policy change may take seconds (AWS says
 * "a few minutes") to apply everywhere, so the credential can still work
 * briefly after revoke returns. Nothing here waits for it.
 *
 * sts:GetCallerIdentity ignores any Deny (its API reference), so a revoked
 * credential still answers that one call; everything else is refused.
 */

export const REVOKED_SESSIONS_POLICY = 'credops-revoked-sessions';

/** What one Deny statement refuses. */
export interface SessionDeny {
  /** The session's aws:userid. */
  userId: string;
  /** When the credential expires (epoch ms): past it the statement denies nothing and is dropped. */
  expiresAt: number;
  /** GetSessionToken only: when AWS issued it (epoch ms), to match aws:TokenIssueTime. */
  issuedAt?: number;
}

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: string;
  Statement: Statement[];
}

/**
 * A GetSessionToken credential's aws:userid is the IAM user's own id, shared
 * with the user's long-term keys and with every other session token of that
 * user. aws:TokenIssueTime tells them apart: long-term keys have none (a
 * condition on a missing key is false, so they are never matched), and other
 * tokens were issued at other times. AWS does not document the precision of
 * aws:TokenIssueTime, and the issue time is only known as Expiration minus the
 * duration (Expiration comes to the second), hence a window of a second on
 * either side: a token the same user got within that second is refused too.
 */
export const TOKEN_ISSUE_TIME_SLACK_MS = 1_000;

/**
 * Sessions with their own aws:userid (assumed roles, federated users) share
 * one statement per expiry slot, their ids listed in one StringEquals (any of
 * them matches): an id costs ~50 characters where a statement costs ~170, so
 * the deny list holds about three times as many sessions within IAM's quota.
 * A slot's statement is dropped once its last session can have expired, at
 * most DENY_SLOT_MS after the session's own expiry.
 */
export const DENY_SLOT_MS = 15 * 60_000;

const SID_PATTERN = /^credops(\d{10})(slot|[0-9a-f]+)$/;

const sidFor = (expiresAt: number, suffix: string) => `credops${String(Math.ceil(expiresAt / 1000)).padStart(10, '0')}${suffix}`;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The statement that refuses one session, alone: its Sid carries its expiry (epoch seconds). */
export function denyStatement(deny: SessionDeny): Statement {
  if (deny.issuedAt === undefined) {
    const slotEnd = Math.ceil(deny.expiresAt / DENY_SLOT_MS) * DENY_SLOT_MS;
    return { Sid: sidFor(slotEnd, 'slot'), Effect: 'Deny', Action: '*', Resource: '*', Condition: { StringEquals: { 'aws:userid': [deny.userId] } } };
  }
  const digest = createHash('sha256').update(`${deny.userId}|${deny.issuedAt}`).digest('hex').slice(0, 12);
  return {
    Sid: sidFor(deny.expiresAt, digest),
    Effect: 'Deny',
    Action: '*',
    Resource: '*',
    Condition: {
      StringEquals: { 'aws:userid': deny.userId },
      DateGreaterThanEquals: { 'aws:TokenIssueTime': iso(deny.issuedAt - TOKEN_ISSUE_TIME_SLACK_MS) },
      DateLessThanEquals: { 'aws:TokenIssueTime': iso(deny.issuedAt + TOKEN_ISSUE_TIME_SLACK_MS) },
    },
  };
}

/** When a statement of ours stops denying anything (epoch ms); undefined for a statement credops did not write. */
export function statementExpiry(statement: Statement): number | undefined {
  const m = SID_PATTERN.exec(statement.Sid ?? '');
  return m ? Number(m[1]) * 1000 : undefined;
}

const userIds = (s: Statement): string[] => {
  const v = s.Condition?.['StringEquals']?.['aws:userid'];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
};

/**
 * The deny list after dropping expired statements of ours and adding `add`
 * (once: a session already denied is not added again). Undefined means the
 * list is empty and the policy should not exist. Statements someone else put
 * in the policy are kept as they are. `current` is never modified.
 */
export function nextDenyList(current: PolicyDocument | undefined, add: SessionDeny | undefined, now: number): PolicyDocument | undefined {
  const kept = (current?.Statement ?? []).filter((s) => {
    const expiry = statementExpiry(s);
    return expiry === undefined || expiry > now;
  });
  if (add) {
    const statement = denyStatement(add);
    const i = kept.findIndex((s) => s.Sid === statement.Sid);
    const same = i === -1 ? undefined : kept[i];
    if (!same) kept.push(statement);
    else if (add.issuedAt === undefined && !userIds(same).includes(add.userId)) {
      kept[i] = { ...same, Condition: { ...same.Condition, StringEquals: { ...same.Condition?.['StringEquals'], 'aws:userid': [...userIds(same), add.userId] } } };
    }
  }
  return kept.length ? { Version: '2012-10-17', Statement: kept } : undefined;
}

/** The IAM role or user whose inline policy holds the deny list. */
export interface DenyPrincipal {
  kind: 'role' | 'user';
  name: string;
  /** Its ARN: what concurrent revocations serialise on. */
  arn: string;
}

const describe = (p: DenyPrincipal) => `${p.kind} ${p.name}'s inline policy ${REVOKED_SESSIONS_POLICY}`;

/**
 * Read-modify-write of one policy: two revocations of sessions of the same
 * principal at once (revoke --prefix runs several) would each read the list
 * without the other's statement and the last write would drop one. Within the
 * process they queue per principal here; across processes the state lock
 * already lets only one credops write at a time.
 */
const queues = new Map<string, Promise<void>>();

async function serialised<T>(key: string, run: () => Promise<T>): Promise<T> {
  const before = queues.get(key) ?? Promise.resolve();
  const result = before.then(run);
  const tail = result.then(
    () => undefined,
    () => undefined,
  );
  queues.set(key, tail);
  try {
    return await result;
  } finally {
    if (queues.get(key) === tail) queues.delete(key);
  }
}

interface PolicyCalls {
  get(): Promise<{ PolicyDocument?: string }>;
  put(document: string): Promise<unknown>;
  del(): Promise<unknown>;
  names: readonly [string, string, string];
  limit: number;
}

function policyCalls(iam: IAMClient, p: DenyPrincipal): PolicyCalls {
  const PolicyName = REVOKED_SESSIONS_POLICY;
  return p.kind === 'role'
    ? {
        get: () => iam.send(new GetRolePolicyCommand({ RoleName: p.name, PolicyName })),
        put: (PolicyDocument: string) => iam.send(new PutRolePolicyCommand({ RoleName: p.name, PolicyName, PolicyDocument })),
        del: () => iam.send(new DeleteRolePolicyCommand({ RoleName: p.name, PolicyName })),
        names: ['GetRolePolicy', 'PutRolePolicy', 'DeleteRolePolicy'] as const,
        limit: IAM_ROLE_INLINE_POLICIES_MAX_CHARS,
      }
    : {
        get: () => iam.send(new GetUserPolicyCommand({ UserName: p.name, PolicyName })),
        put: (PolicyDocument: string) => iam.send(new PutUserPolicyCommand({ UserName: p.name, PolicyName, PolicyDocument })),
        del: () => iam.send(new DeleteUserPolicyCommand({ UserName: p.name, PolicyName })),
        names: ['GetUserPolicy', 'PutUserPolicy', 'DeleteUserPolicy'] as const,
        limit: IAM_USER_INLINE_POLICY_MAX_CHARS,
      };
}

/**
 * Adds `deny` to the principal's deny list (or, without it, only drops expired
 * statements): GetXPolicy, then PutXPolicy, or DeleteXPolicy when nothing is
 * left, or nothing when nothing changed.
 */
export async function updateDenyList(
  iam: IAMClient,
  principal: DenyPrincipal,
  deny: SessionDeny | undefined,
  context: { mount: string; role: string; leaseId: string; now: () => number },
): Promise<void> {
  const calls = policyCalls(iam, principal);
  const [getName, putName, delName] = calls.names;
  const op = (operation: string) => ({ mount: context.mount, role: context.role, operation: `${operation} ${principal.name}` });
  await serialised(principal.arn, async () => {
    let current: PolicyDocument | undefined;
    try {
      const out = await awsCall(op(getName), calls.get);
      // IAM returns policy documents URL-encoded (RFC 3986).
      current = out.PolicyDocument ? (JSON.parse(decodeURIComponent(out.PolicyDocument)) as PolicyDocument) : undefined;
      if (current && !Array.isArray(current.Statement)) current.Statement = current.Statement ? [current.Statement as unknown as Statement] : [];
    } catch (err) {
      if (!isNoSuchEntity(err)) throw err;
    }
    const next = nextDenyList(current, deny, context.now());
    if (!next) {
      if (current) {
        await awsCall(op(delName), calls.del).catch((err: unknown) => {
          if (!isNoSuchEntity(err)) throw err;
        });
      }
      return;
    }
    const body = JSON.stringify(next);
    if (current && JSON.stringify(next.Statement) === JSON.stringify(current.Statement)) return;
    if (body.length > calls.limit) throw tooLarge(principal, body.length, calls.limit, context.leaseId);
    try {
      await awsCall(op(putName), () => calls.put(body));
    } catch (err) {
      // The limit counts all of the principal's inline policies together; the others took the room.
      if (isAwsError(err, 'LimitExceeded')) throw tooLarge(principal, body.length, calls.limit, context.leaseId, err);
      throw err;
    }
  });
}

/** The deny list would not fit in IAM's size limit for the principal's inline policies. */
class DenyListFull extends UserError {}

function tooLarge(p: DenyPrincipal, size: number, limit: number, leaseId: string, cause?: unknown): DenyListFull {
  return new DenyListFull(
    `the deny list in ${describe(p)} would be ${size} characters for ${leaseId}, and IAM allows ${limit} for all of a ` +
      `${p.kind}'s inline policies together (statements of expired sessions are dropped as they expire)`,
    cause === undefined ? undefined : { cause },
  );
}

/** AWS will not let credops edit the principal: the deny cannot be placed. */
const isRefused = (err: unknown) => isAwsError(err, 'AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation');

/** How one STS kind finds the principal and the session's identity. */
export interface SessionLocator {
  (ctx: RevokeContext, iam: IAMClient): Promise<{ principal: DenyPrincipal; deny: SessionDeny } | { unknown: string }>;
}

/**
 * The revoke of an STS lease: the Deny when the session is still alive; when
 * it has expired, AWS refuses it already and only the deny list is tidied (best
 * effort: an expired credential is revoked whatever happens to the list).
 * When AWS refuses credops the calls (AccessDenied), the deny list is full, or
 * the lease lacks what a Deny needs, the lease is still removed and the result says the credential
 * stays valid until it expires, and why.
 */
export async function revokeStsSession(ctx: RevokeContext, locate: SessionLocator): Promise<RevokeResult> {
  const { lease, mount, clients, clock } = ctx;
  const iam = clients.iam(mount);
  const context = { mount: lease.mount, role: lease.role, leaseId: lease.leaseId, now: () => clock.now() };
  if (lease.expiresAt <= clock.now()) {
    try {
      const found = await locate(ctx, iam);
      if ('principal' in found) await updateDenyList(iam, found.principal, undefined, context);
    } catch {
      // Tidying is for the next revocation to finish; this credential has expired.
    }
    return { invalidated: true };
  }
  let found: Awaited<ReturnType<SessionLocator>>;
  try {
    found = await locate(ctx, iam);
  } catch (err) {
    if (isRefused(err)) return notInvalidated(`AWS refused: ${errorMessage(err)}`);
    if (isNoSuchEntity(err)) return notInvalidated(`the session's role or user is not in the account of the mount's root identity: ${errorMessage(err)}`);
    throw err;
  }
  if ('unknown' in found) return notInvalidated(found.unknown);
  try {
    await updateDenyList(iam, found.principal, found.deny, context);
  } catch (err) {
    if (isRefused(err) || isNoSuchEntity(err)) return notInvalidated(`credops could not update ${describe(found.principal)}: ${errorMessage(err)}`);
    // A full list must not block revocation (a revoke --prefix over many leases
    // would stall): the lease goes, as in Vault, and the result says why the
    // credential still works until it expires.
    if (err instanceof DenyListFull) return notInvalidated(err.message);
    throw err;
  }
  return { invalidated: true, deniedBy: describe(found.principal) };
}

function notInvalidated(reason: string): RevokeResult {
  return { invalidated: false, reason };
}

/** The assumed role, checked with GetRole to be the very role the session came from (same account, same path). */
export const locateRoleSession: SessionLocator = async ({ lease, mount }, iam) => {
  const roleArn = lease.resources.roleArn;
  const userId = lease.resources.sessionUserId;
  if (!roleArn || !userId) return { unknown: recordedTooLittle(lease) };
  const RoleName = roleArn.slice(roleArn.lastIndexOf('/') + 1);
  const out = await awsCall({ mount: mount.name, role: lease.role, operation: `GetRole ${RoleName}` }, () => iam.send(new GetRoleCommand({ RoleName })));
  if (out.Role?.Arn !== roleArn) {
    return {
      unknown:
        `the role ${roleArn} is not in the account of the mount's root identity (IAM there has ${out.Role?.Arn ?? 'no such role'}); ` +
        'credops can only place a Deny on roles of its own account',
    };
  }
  return { principal: { kind: 'role', name: RoleName, arn: roleArn }, deny: { userId, expiresAt: lease.expiresAt } };
};

/**
 * The IAM user that called GetFederationToken or GetSessionToken: the mount's
 * root identity (GetUser without a name answers for the caller).
 */
export async function rootUser(ctx: RevokeContext, iam: IAMClient): Promise<DenyPrincipal & { userId: string }> {
  const out = await awsCall({ mount: ctx.mount.name, role: ctx.lease.role, operation: 'GetUser (the root identity)' }, () => iam.send(new GetUserCommand({})));
  const { UserName, UserId, Arn } = out.User ?? {};
  if (!UserName || !UserId || !Arn) throw new Error(`GetUser returned no user for mount ${ctx.mount.name}`);
  return { kind: 'user', name: UserName, arn: Arn, userId: UserId };
}

export function recordedTooLittle(lease: Lease): string {
  return `the lease ${lease.leaseId} was issued by a credops that did not record the session's identity`;
}

