import { parseDuration } from '../duration.js';
import { CREDENTIAL_TYPES, type CredentialType } from '../model/types.js';
import type { RoleFile } from '../model/schema-types.js';
import { LEGACY_TYPES } from './credential-types.js';

/**
 * Vault's field encodings, read the way Vault's framework reads them. Only
 * called on values the schema accepted.
 */

/** null, "", 0, [] and {}: what `vault read` prints for a field that is not set. */
export function isVaultEmpty(v: unknown): boolean {
  if (v === null || v === undefined || v === '' || v === 0) return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && Object.keys(v).length === 0;
}

/** TypeCommaStringSlice: an array, or one comma-separated string; items trimmed, empties dropped. */
export function commaList(v: unknown): string[] {
  if (v === undefined || v === null || v === '') return [];
  if (Array.isArray(v) && v.every(isPlainItem)) return v.slice() as string[];
  if (isVaultEmpty(v)) return [];
  const items = Array.isArray(v) ? (v as string[]) : String(v).split(',');
  return items.map((s) => s.trim()).filter((s) => s !== '');
}

/** A list item that trimming and dropping empties would leave as it is. */
function isPlainItem(s: unknown): boolean {
  return typeof s === 'string' && s !== '' && s.charCodeAt(0) > 32 && s.charCodeAt(s.length - 1) > 32;
}

/** TypeKVPairs: a map, or a list of "key=value" strings. */
export function kvPairs(v: unknown): Record<string, string> {
  if (isVaultEmpty(v)) return {};
  if (Array.isArray(v)) {
    const out: Record<string, string> = {};
    for (const item of v as string[]) {
      const eq = item.indexOf('=');
      out[item.slice(0, eq)] = item.slice(eq + 1);
    }
    return out;
  }
  return { ...(v as Record<string, string>) };
}

/** TypeDurationSecond: seconds or a duration string; 0 and empties are "not set". */
export function durationSeconds(v: unknown): number | undefined {
  if (isVaultEmpty(v) || (typeof v === 'string' && v.trim() === '')) return undefined;
  const seconds = parseDuration(v as string | number);
  return seconds === 0 ? undefined : seconds;
}

export function nonEmptyString(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The legacy `policy`/`arn` value, when the role uses one. */
export function legacyOf(raw: RoleFile): { field: 'policy' | 'arn'; value: string } | undefined {
  if (nonEmptyString(raw.policy)) return { field: 'policy', value: raw.policy! };
  if (nonEmptyString(raw.arn)) return { field: 'arn', value: raw.arn! };
  return undefined;
}

/**
 * The role's credential types. A legacy role gets what Vault's
 * upgradeLegacyPolicyEntry gives it: a role ARN -> assumed_role, a policy
 * ARN -> iam_user, a policy document -> iam_user and federation_token.
 */
export function credentialTypesOf(raw: RoleFile): CredentialType[] {
  // Asked by several rules and by the normalisation of every role: worked out once per file (10,000 roles, issue #11).
  let types = typesOfFile.get(raw);
  if (!types) {
    types = Object.freeze(typesOf(raw)) as CredentialType[];
    typesOfFile.set(raw, types);
  }
  return types;
}

const typesOfFile = new WeakMap<RoleFile, CredentialType[]>();

function typesOf(raw: RoleFile): CredentialType[] {
  const single = raw.credential_type;
  // The common case, one type spelled plainly, without the list's allocations.
  if (typeof single === 'string' && raw.policy === undefined && raw.arn === undefined && (CREDENTIAL_TYPES as readonly string[]).includes(single)) return [single as CredentialType];
  const legacy = legacyOf(raw);
  if (legacy?.field === 'arn') return [...(legacyArnField(legacy.value) === 'role_arns' ? LEGACY_TYPES.roleArn : LEGACY_TYPES.policyArn)];
  if (legacy?.field === 'policy') return [...LEGACY_TYPES.policy];
  const types = commaList(raw.credential_type).filter((t): t is CredentialType => (CREDENTIAL_TYPES as readonly string[]).includes(t));
  return [...new Set(types)];
}

/** Where upgradeLegacyPolicyEntry puts a legacy `arn`: a role ARN is assumed, a policy ARN attached. */
export function legacyArnField(arn: string): 'role_arns' | 'policy_arns' {
  return /:role\//.test(arn) ? 'role_arns' : 'policy_arns';
}
