import type { AclPolicySpec, AuthMountSpec, AuthRoleSpec, MountConfig, RoleSpec, SinkSpec, StaticRoleSpec } from '../model/types.js';
import { formatIssueRate } from '../duration.js';
import { normalisePolicy, uniqueSorted, canonical } from './normalise.js';

/** How a field is compared and shown. */
export type FieldKind =
  | 'scalar' // string, number or boolean
  | 'duration' // seconds, shown as 1h30m
  | 'set' // an array whose order has no meaning
  | 'map' // string -> string (tags)
  | 'policy' // an IAM policy document, normalised
  | 'value'; // any JSON value (sink config)

export interface FieldDef<T> {
  /** Vault's (or credops.yaml's) name for the field. */
  name: string;
  kind: FieldKind;
  /** The comparable value; undefined when unset or empty, so an empty list equals an absent one. */
  get(spec: T): unknown;
}

const set = (values: string[]) => (values.length ? uniqueSorted(values) : undefined);
const map = (values: Record<string, string>) => (Object.keys(values).length ? canonical(values) : undefined);

/** In Vault's order (`vault read aws/roles/X`). `source` and `policy_file` are where a role lives, not what it is. */
export const ROLE_FIELDS: FieldDef<RoleSpec>[] = [
  { name: 'credential_type', kind: 'scalar', get: (r) => set(r.credential_types)?.join(',') },
  { name: 'policy_document', kind: 'policy', get: (r) => r.policy_document && normalisePolicy(r.policy_document) },
  { name: 'policy_arns', kind: 'set', get: (r) => set(r.policy_arns) },
  { name: 'iam_groups', kind: 'set', get: (r) => set(r.iam_groups) },
  { name: 'role_arns', kind: 'set', get: (r) => set(r.role_arns) },
  { name: 'default_sts_ttl', kind: 'duration', get: (r) => r.default_sts_ttl },
  { name: 'max_sts_ttl', kind: 'duration', get: (r) => r.max_sts_ttl },
  { name: 'user_path', kind: 'scalar', get: (r) => r.user_path },
  { name: 'permissions_boundary_arn', kind: 'scalar', get: (r) => r.permissions_boundary_arn },
  { name: 'iam_tags', kind: 'map', get: (r) => map(r.iam_tags) },
  { name: 'session_tags', kind: 'map', get: (r) => map(r.session_tags) },
  { name: 'external_id', kind: 'scalar', get: (r) => r.external_id },
  { name: 'mfa_serial_number', kind: 'scalar', get: (r) => r.mfa_serial_number },
  { name: 'max_leases', kind: 'scalar', get: (r) => r.max_leases },
  { name: 'max_issue_rate', kind: 'scalar', get: (r) => r.max_issue_rate && formatIssueRate(r.max_issue_rate) },
];

/** Vault's `vault read auth/jwt/config` fields. */
export const AUTH_METHOD_FIELDS: FieldDef<AuthMountSpec>[] = [
  { name: 'type', kind: 'scalar', get: (a) => a.type },
  { name: 'kubernetes_host', kind: 'scalar', get: (a) => a.kubernetes_host },
  { name: 'oidc_discovery_url', kind: 'scalar', get: (a) => a.oidc_discovery_url },
  { name: 'jwks_url', kind: 'scalar', get: (a) => a.jwks_url },
  { name: 'jwt_validation_pubkeys', kind: 'set', get: (a) => a.jwt_validation_pubkeys && set(a.jwt_validation_pubkeys) },
  { name: 'bound_issuer', kind: 'scalar', get: (a) => a.bound_issuer },
  { name: 'jwt_supported_algs', kind: 'set', get: (a) => a.jwt_supported_algs && set(a.jwt_supported_algs) },
  { name: 'default_role', kind: 'scalar', get: (a) => a.default_role },
];

/** Vault's `vault read auth/jwt/role/NAME` fields, and credops's caps. */
export const AUTH_ROLE_FIELDS: FieldDef<AuthRoleSpec>[] = [
  { name: 'bound_audiences', kind: 'set', get: (r) => set(r.bound_audiences) },
  { name: 'bound_subject', kind: 'scalar', get: (r) => r.bound_subject },
  { name: 'bound_claims', kind: 'value', get: (r) => (Object.keys(r.bound_claims).length ? canonical(r.bound_claims) : undefined) },
  { name: 'bound_claims_type', kind: 'scalar', get: (r) => r.bound_claims_type },
  { name: 'user_claim', kind: 'scalar', get: (r) => r.user_claim },
  { name: 'claim_mappings', kind: 'map', get: (r) => map(r.claim_mappings) },
  { name: 'bound_service_account_names', kind: 'set', get: (r) => r.bound_service_accounts && set(r.bound_service_accounts.names) },
  { name: 'bound_service_account_namespaces', kind: 'set', get: (r) => r.bound_service_accounts && set(r.bound_service_accounts.namespaces) },
  { name: 'alias_name_source', kind: 'scalar', get: (r) => r.bound_service_accounts?.alias },
  { name: 'token_policies', kind: 'set', get: (r) => set(r.token_policies) },
  { name: 'token_ttl', kind: 'duration', get: (r) => r.token_ttl },
  { name: 'token_max_ttl', kind: 'duration', get: (r) => r.token_max_ttl },
  { name: 'clock_skew_leeway', kind: 'duration', get: (r) => r.clock_skew_leeway },
  { name: 'expiration_leeway', kind: 'duration', get: (r) => r.expiration_leeway },
  { name: 'not_before_leeway', kind: 'duration', get: (r) => r.not_before_leeway },
  { name: 'max_leases', kind: 'scalar', get: (r) => r.max_leases },
  { name: 'max_issue_rate', kind: 'scalar', get: (r) => r.max_issue_rate && formatIssueRate(r.max_issue_rate) },
];

/** An ACL policy's rules, one `PATH: capabilities` entry each, so that the plan shows rules added and removed. */
export const ACL_POLICY_FIELDS: FieldDef<AclPolicySpec>[] = [
  { name: 'path', kind: 'set', get: (p) => set(p.paths.map((r) => `${r.path}: ${r.capabilities.join(', ')}`)) },
];

/**
 * A change to any of these means credentials already issued for the role carry
 * the old permissions (Vault never updates a live user or session), so every
 * sink of the role gets a new one. Tags are included: ABAC policies read them.
 */
export const ROLE_FIELDS_THAT_ROTATE = new Set([
  'credential_type',
  'policy_document',
  'policy_arns',
  'iam_groups',
  'role_arns',
  'permissions_boundary_arn',
  'user_path',
  'iam_tags',
  'session_tags',
]);

/** In Vault's order (`vault read aws/static-roles/X`). */
export const STATIC_ROLE_FIELDS: FieldDef<StaticRoleSpec>[] = [
  { name: 'username', kind: 'scalar', get: (r) => r.username },
  { name: 'rotation_period', kind: 'duration', get: (r) => r.rotation_period },
  { name: 'assume_role_arn', kind: 'scalar', get: (r) => r.assume_role_arn },
  { name: 'assume_role_session_name', kind: 'scalar', get: (r) => r.assume_role_session_name },
  { name: 'external_id', kind: 'scalar', get: (r) => r.external_id },
];

/** Sink fields other than `config`, which is compared key by key as `config.KEY`. */
export const SINK_FIELDS: FieldDef<SinkSpec>[] = [
  { name: 'type', kind: 'scalar', get: (s) => s.type },
  { name: 'mount', kind: 'scalar', get: (s) => s.mount },
  { name: 'role', kind: 'scalar', get: (s) => (s.static_role ? undefined : s.role) },
  { name: 'static_role', kind: 'scalar', get: (s) => (s.static_role ? s.role : undefined) },
  { name: 'role_arn', kind: 'scalar', get: (s) => s.role_arn },
  { name: 'ttl', kind: 'duration', get: (s) => s.ttl },
  { name: 'renew_before', kind: 'duration', get: (s) => s.renew_before },
  { name: 'grace', kind: 'duration', get: (s) => s.grace },
  { name: 'deletion_policy', kind: 'scalar', get: (s) => s.deletion_policy },
  { name: 'verify', kind: 'scalar', get: (s) => s.verify },
  { name: 'adopt', kind: 'scalar', get: (s) => s.adopt },
];

export const SINK_CONFIG_PREFIX = 'config.';

/** The credential the sink holds was issued for the old values: a new one is published. */
export function sinkFieldRotates(field: string): boolean {
  return field.startsWith(SINK_CONFIG_PREFIX) || ['type', 'mount', 'role', 'static_role', 'role_arn', 'ttl'].includes(field);
}

export const MOUNT_FIELDS: FieldDef<MountConfig>[] = [
  { name: 'region', kind: 'scalar', get: (m) => m.region },
  { name: 'iam_endpoint', kind: 'scalar', get: (m) => m.iam_endpoint },
  { name: 'sts_endpoint', kind: 'scalar', get: (m) => m.sts_endpoint },
  { name: 'sts_region', kind: 'scalar', get: (m) => m.sts_region },
  { name: 'rotation_period', kind: 'duration', get: (m) => m.rotation_period },
  { name: 'rotation_schedule', kind: 'scalar', get: (m) => m.rotation_schedule },
  { name: 'sts_fallback_endpoints', kind: 'value', get: (m) => m.sts_fallback_endpoints },
  { name: 'sts_fallback_regions', kind: 'value', get: (m) => m.sts_fallback_regions },
  { name: 'role_arn', kind: 'scalar', get: (m) => m.role_arn },
  { name: 'external_id', kind: 'scalar', get: (m) => m.external_id },
  { name: 'session_name', kind: 'scalar', get: (m) => m.session_name },
  { name: 'max_retries', kind: 'scalar', get: (m) => m.max_retries },
  { name: 'lease', kind: 'duration', get: (m) => m.lease },
  { name: 'lease_max', kind: 'duration', get: (m) => m.lease_max },
  { name: 'username_template', kind: 'scalar', get: (m) => m.username_template },
  { name: 'roles', kind: 'scalar', get: (m) => m.roles },
];

const KINDS = new Map<string, FieldKind>(
  [...ROLE_FIELDS, ...STATIC_ROLE_FIELDS, ...SINK_FIELDS, ...MOUNT_FIELDS, ...AUTH_METHOD_FIELDS, ...AUTH_ROLE_FIELDS, ...ACL_POLICY_FIELDS].map((f) => [f.name, f.kind]),
);

/** How a renderer shows a field of a plan (which may have been read back from JSON). */
export function fieldKind(field: string): FieldKind {
  return KINDS.get(field) ?? 'value';
}

const SECRET_WORDS = new Set(['secret', 'password', 'passwd', 'passphrase', 'token', 'credential', 'credentials', 'authorization', 'apikey', 'privatekey', 'secretkey', 'accesskey', 'cookie']);
const SECRET_PAIRS = new Set(['api key', 'private key', 'secret key', 'access key', 'client secret', 'auth header']);
/** A trailing word that makes the field name a thing's name or place, not its value (`secret_id`, `token_file`). */
const NAMING_WORDS = new Set(['id', 'ids', 'name', 'names', 'arn', 'arns', 'path', 'file', 'ref', 'url', 'prefix', 'format', 'type']);

/**
 * A field named like a secret (`token`, `client_secret`, `apiKey`, `password`).
 * Its value is never put in a plan (DESIGN invariant 2), whatever it holds.
 */
export function isSensitiveKey(key: string): boolean {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  const last = words[words.length - 1];
  if (last === undefined || NAMING_WORDS.has(last)) return false;
  if (words.some((w) => SECRET_WORDS.has(w))) return true;
  return words.slice(1).some((w, i) => SECRET_PAIRS.has(`${words[i]} ${w}`));
}

export const SENSITIVE_PLACEHOLDER = '(sensitive value)';

/** A sink config value with every member named like a secret replaced, at any depth. */
export function redactNested(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactNested);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, member] of Object.entries(value)) out[key] = isSensitiveKey(key) ? SENSITIVE_PLACEHOLDER : redactNested(member);
    return out;
  }
  return value;
}

/**
 * `config.client_secret` and `config.auth.token` are sensitive; so is any field flagged so.
 * A field of credops's own formats (`token_policies`, `token_ttl` of an auth role) is never a secret.
 */
export function isSensitiveField(field: string): boolean {
  return !KINDS.has(field) && field.split('.').some(isSensitiveKey);
}
