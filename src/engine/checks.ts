import { UserError } from '../errors.js';
import type { CredentialType, PolicyDocument, RoleSpec } from '../model/types.js';
import { rulesOf } from '../schema/credential-types.js';
import { formatDuration } from '../duration.js';

/**
 * AWS limits checked before calling AWS (DESIGN: "Vault does not"): a precise
 * error naming the role and field instead of AWS's late, vaguer one. The
 * numbers come from src/limits.ts.
 */
export function limitError(role: Pick<RoleSpec, 'mount' | 'name'>, message: string): UserError {
  return new UserError(`${role.mount}/roles/${role.name}: ${message}`);
}

/** AWS counts policy characters without whitespace. */
export function policyChars(doc: PolicyDocument): number {
  return JSON.stringify(doc).replace(/\s/g, '').length;
}

export function checkPolicySize(role: RoleSpec, max: number, what: string): void {
  if (!role.policy_document) return;
  const chars = policyChars(role.policy_document);
  if (chars > max) {
    throw limitError(role, `policy_document is ${chars} characters (whitespace not counted); AWS allows at most ${max} for ${what}`);
  }
}

export function checkCount(role: RoleSpec, field: string, count: number, max: number, what: string): void {
  if (count > max) throw limitError(role, `${field} has ${count} entries; AWS allows at most ${max} ${what}`);
}

export function checkTags(role: RoleSpec, field: string, tags: Record<string, string>, limits: { count: number; keyMax: number; valueMax: number }): void {
  const entries = Object.entries(tags);
  checkCount(role, field, entries.length, limits.count, 'tags');
  for (const [key, value] of entries) {
    if (key.length > limits.keyMax) throw limitError(role, `${field} key "${key}" is ${key.length} characters; AWS allows at most ${limits.keyMax}`);
    if (value.length > limits.valueMax) throw limitError(role, `${field} value of "${key}" is ${value.length} characters; AWS allows at most ${limits.valueMax}`);
  }
}

export function checkLength(role: RoleSpec, field: string, value: string | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (value.length < min || value.length > max) {
    throw limitError(role, `${field} is ${value.length} characters; AWS requires ${min} to ${max}`);
  }
}

export function checkDuration(role: RoleSpec, seconds: number, min: number, max: number, call: string): void {
  if (seconds < min || seconds > max) {
    throw limitError(
      role,
      `ttl ${formatDuration(seconds)} (${seconds}s) is outside what ${call} accepts: ${formatDuration(min)} to ${formatDuration(max)}`,
    );
  }
}

/**
 * The limits of the type's registry entry (src/schema/credential-types.ts),
 * checked again at issue time: the role in the state may predate a check, and
 * `ttl` is the request's. Validation reports the same limits with positions.
 */
export function checkTypeLimits(role: RoleSpec, type: CredentialType, ttl?: number): void {
  const { sts, policy, policyArns, groupsMax } = rulesOf(type);
  if (sts && ttl !== undefined) checkDuration(role, ttl, sts.minSeconds, sts.maxSeconds, sts.call);
  if (policy) checkPolicySize(role, policy.maxChars, policy.as === 'inline' ? 'an IAM user inline policy' : `a ${sts?.call ?? 'session'} session policy`);
  if (policyArns) {
    const what = policyArns.as === 'attached' ? 'managed policies per IAM user' : 'session policy ARNs';
    checkCount(role, 'policy_arns', role.policy_arns.length, policyArns.max, what);
  }
  if (groupsMax !== undefined) checkCount(role, 'iam_groups', role.iam_groups.length, groupsMax, 'groups per IAM user');
}
