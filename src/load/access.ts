import { parseIssueRate } from '../duration.js';
import type { AclPolicyFile, JwtAuthConfigFile, JwtAuthRoleFile, KubernetesAuthConfigFile, KubernetesAuthRoleFile } from '../model/schema-types.js';
import type { AccessSpec, AclPathRule, AclPolicySpec, AuthMountSpec, AuthRoleSpec } from '../model/types.js';
import { aclPathProblem } from '../schema/acl-path.js';
import { toDiagnostics, type Finding } from '../schema/finding.js';
import type { SourceFile } from '../schema/source-file.js';
import { durationSeconds } from '../schema/vault-values.js';
import type { LoadContext } from './context.js';
import type { ParsedHcl } from './hcl.js';

/**
 * credops server's access files: auth methods (auth/MOUNT/config.json and
 * auth/MOUNT/roles/NAME.json, Vault's JWT auth format) and ACL policies
 * (acl/NAME.hcl or .json, Vault's policy syntax). A repo with none of them
 * has no `access`, and `credops server` then lets nobody in.
 */

const CONFIG_FILE = /^auth\/([^/]+)\/config\.(?:json|ya?ml)$/i;
const ROLE_FILE = /^auth\/([^/]+)\/roles?\/([^/]+)\.(?:json|ya?ml)$/i;
const ACL_FILE = /^acl\/([^/]+)\.(hcl|json)$/i;
const NAME = /^[\w.@-]+$/;

/** Vault's defaults for what a role leaves out. */
const DEFAULT_TOKEN_TTL = 3600;
const DEFAULT_TOKEN_MAX_TTL = 24 * 3600;
const DEFAULT_CLOCK_SKEW = 60;
/** Vault's claimDefaultLeeway: exp and nbf. */
const DEFAULT_EXPIRY_LEEWAY = 150;

/** Vault's leeway fields: unset or 0 is the default, -1 is none. */
function leeway(value: number | string | undefined, fallback: number): number {
  if (value === -1 || (typeof value === 'string' && value.trim() === '-1')) return 0;
  return durationSeconds(value) ?? fallback;
}

export function loadAccess(ctx: LoadContext, hcl: ParsedHcl): AccessSpec | undefined {
  const auth = new Map<string, AuthMountSpec | null>();
  const roles: AuthRoleSpec[] = [];
  const acl: AclPolicySpec[] = [];
  const roleSources: { role: AuthRoleSpec; source: SourceFile }[] = [];
  let seen = false;

  for (const file of ctx.snapshot.files) {
    const config = CONFIG_FILE.exec(file.path);
    if (!config) continue;
    seen = true;
    auth.set(config[1]!, null);
    const source = ctx.parse(file);
    if (!source) continue;
    const mount = isKubernetesConfig(source.value) ? kubernetesMount(ctx, source, config[1]!) : jwtMount(ctx, source, config[1]!);
    if (mount) auth.set(config[1]!, mount);
  }

  for (const file of ctx.snapshot.files) {
    const m = ROLE_FILE.exec(file.path);
    if (!m) continue;
    seen = true;
    const [mount, name] = [m[1]!, m[2]!.replace(/\.(?:json|ya?ml)$/i, '')];
    const source = ctx.parse(file);
    if (!source) continue;
    const method = auth.get(mount);
    // A role of a Kubernetes mount is in Vault's Kubernetes role format; of any other, the JWT role format.
    const kubernetes = method ? method.type === 'kubernetes' : isKubernetesRole(source.value);
    const raw = kubernetes ? ctx.check<KubernetesAuthRoleFile>(source, 'kubernetes_auth_role') : ctx.check<JwtAuthRoleFile>(source, 'jwt_auth_role');
    if (!raw) continue;
    const findings: Finding[] = [];
    if (!NAME.test(name)) findings.push({ pointer: '', message: `role name "${name}" may only hold letters, digits and _ . @ -` });
    if (!auth.has(mount)) findings.push({ pointer: '', message: `auth/${mount}/config.json is missing: a role needs its auth method's config (vault write auth/${mount}/config)` });
    const role = kubernetes ? kubernetesRole(mount, name, file.path, raw as KubernetesAuthRoleFile, findings) : authRole(mount, name, file.path, raw as JwtAuthRoleFile, findings);
    if (report(ctx, source, findings)) continue;
    roles.push(role);
    roleSources.push({ role, source });
  }

  for (const file of ctx.snapshot.files) {
    const m = ACL_FILE.exec(file.path);
    if (!m) continue;
    seen = true;
    const source = m[2]!.toLowerCase() === 'hcl' ? hcl.get(file.path) : ctx.parse(file);
    if (source && m[2]!.toLowerCase() === 'hcl') ctx.diagnostics.push(...source.diagnostics);
    if (!source || source.value === undefined) {
      if (!source && !file.problem && m[2]!.toLowerCase() === 'hcl') {
        ctx.diagnostics.push({ file: file.path, line: 1, column: 1, pointer: '', severity: 'error', message: 'bug: this HCL file was not parsed before validation' });
      }
      continue;
    }
    const raw = ctx.check<AclPolicyFile>(source, 'acl_policy');
    if (!raw) continue;
    const findings: Finding[] = [];
    if (!NAME.test(m[1]!)) findings.push({ pointer: '', message: `policy name "${m[1]}" may only hold letters, digits and _ . @ -` });
    if (m[1] === 'root') findings.push({ pointer: '', message: 'cannot update "root" policy (Vault reserves the name)' });
    const paths = aclRules(raw, findings);
    if (report(ctx, source, findings)) continue;
    acl.push({ name: m[1]!, source: file.path, paths });
  }

  for (const { role, source } of roleSources) {
    const findings: Finding[] = [];
    role.token_policies.forEach((p, i) => {
      if (!acl.some((a) => a.name === p)) {
        findings.push({ pointer: `/token_policies/${i}`, severity: 'warning', message: `there is no ACL policy "${p}" (acl/${p}.hcl); it grants nothing` });
      }
    });
    report(ctx, source, findings);
  }

  if (!seen) return undefined;
  const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return {
    auth: [...auth.values()].filter((a): a is AuthMountSpec => a !== null).sort(byName),
    roles: roles.sort((a, b) => byName({ name: `${a.mount}/${a.name}` }, { name: `${b.mount}/${b.name}` })),
    acl: acl.sort(byName),
  };
}

function jwtMount(ctx: LoadContext, source: SourceFile, name: string): AuthMountSpec | undefined {
  const raw = ctx.check<JwtAuthConfigFile>(source, 'jwt_auth_config');
  if (!raw) return undefined;
  const sources = (['oidc_discovery_url', 'jwks_url', 'jwt_validation_pubkeys'] as const).filter((k) => raw[k] !== undefined);
  if (sources.length !== 1) {
    report(ctx, source, [{ pointer: sources[1] ? `/${sources[1]}` : '', message: "exactly one of 'jwt_validation_pubkeys', 'jwks_url' or 'oidc_discovery_url' must be set" }]);
    return undefined;
  }
  return {
    name,
    type: 'jwt',
    source: source.path,
    ...(raw.oidc_discovery_url !== undefined && { oidc_discovery_url: raw.oidc_discovery_url.replace(/\/+$/, '') }),
    ...(raw.jwks_url !== undefined && { jwks_url: raw.jwks_url }),
    ...(raw.jwt_validation_pubkeys !== undefined && { jwt_validation_pubkeys: raw.jwt_validation_pubkeys }),
    ...(raw.bound_issuer !== undefined && { bound_issuer: raw.bound_issuer }),
    ...(raw.jwt_supported_algs !== undefined && { jwt_supported_algs: raw.jwt_supported_algs }),
    ...(raw.default_role !== undefined && { default_role: raw.default_role }),
  };
}

/**
 * Vault's Kubernetes auth config, as a JWT auth method of the cluster's
 * service account issuer: its keys come from the issuer's discovery document
 * (issuer, else kubernetes_host) or pem_keys.
 */
function kubernetesMount(ctx: LoadContext, source: SourceFile, name: string): AuthMountSpec | undefined {
  const raw = ctx.check<KubernetesAuthConfigFile>(source, 'kubernetes_auth_config');
  if (!raw) return undefined;
  const host = raw.kubernetes_host.replace(/\/+$/, '');
  return {
    name,
    type: 'kubernetes',
    source: source.path,
    kubernetes_host: host,
    ...(raw.pem_keys?.length ? { jwt_validation_pubkeys: raw.pem_keys, jwt_supported_algs: ['RS256', 'ES256'] } : { oidc_discovery_url: (raw.issuer ?? host).replace(/\/+$/, '') }),
    ...(raw.issuer !== undefined && !raw.disable_iss_validation && { bound_issuer: raw.issuer }),
  };
}

function isKubernetesConfig(value: unknown): boolean {
  return value !== null && typeof value === 'object' && 'kubernetes_host' in value;
}

function isKubernetesRole(value: unknown): boolean {
  return value !== null && typeof value === 'object' && ('bound_service_account_names' in value || 'bound_service_account_namespaces' in value);
}

const list = (v: string | string[] | undefined) => (v === undefined ? [] : typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v);

/** Vault's Kubernetes auth role, as an auth role whose tokens are the cluster's service account tokens. */
function kubernetesRole(mount: string, name: string, source: string, raw: KubernetesAuthRoleFile, findings: Finding[]): AuthRoleSpec {
  const role: AuthRoleSpec = {
    mount,
    name,
    source,
    bound_audiences: raw.audience !== undefined ? [raw.audience] : [],
    bound_claims: {},
    bound_claims_type: 'string',
    user_claim: 'sub',
    claim_mappings: {},
    token_policies: [...new Set([...list(raw.token_policies), ...list(raw.policies)])],
    token_ttl: durationSeconds(raw.token_ttl) ?? DEFAULT_TOKEN_TTL,
    token_max_ttl: durationSeconds(raw.token_max_ttl) ?? DEFAULT_TOKEN_MAX_TTL,
    clock_skew_leeway: DEFAULT_CLOCK_SKEW,
    expiration_leeway: DEFAULT_EXPIRY_LEEWAY,
    not_before_leeway: DEFAULT_EXPIRY_LEEWAY,
    bound_service_accounts: {
      names: list(raw.bound_service_account_names),
      namespaces: list(raw.bound_service_account_namespaces),
      alias: raw.alias_name_source ?? 'serviceaccount_uid',
    },
  };
  const explicitMax = durationSeconds(raw.token_explicit_max_ttl);
  if (explicitMax !== undefined) role.token_max_ttl = Math.min(role.token_max_ttl, explicitMax);
  if (raw.max_leases !== undefined) role.max_leases = raw.max_leases;
  if (raw.max_issue_rate !== undefined) role.max_issue_rate = parseIssueRate(raw.max_issue_rate);
  if (raw.token_ttl !== undefined && raw.token_max_ttl !== undefined && role.token_ttl > role.token_max_ttl) {
    findings.push({ pointer: '/token_ttl', message: 'ttl should not be greater than max ttl' });
  }
  const { names, namespaces } = role.bound_service_accounts!;
  if (names.length === 0) findings.push({ pointer: '/bound_service_account_names', message: '"bound_service_account_names" can not be empty' });
  if (namespaces.length === 0) findings.push({ pointer: '/bound_service_account_namespaces', message: '"bound_service_account_namespaces" can not be empty' });
  if (names.length > 1 && names.includes('*')) findings.push({ pointer: '/bound_service_account_names', message: 'can not mix "*" with values' });
  if (namespaces.length > 1 && namespaces.includes('*')) findings.push({ pointer: '/bound_service_account_namespaces', message: 'can not mix "*" with values' });
  return role;
}

function authRole(mount: string, name: string, source: string, raw: JwtAuthRoleFile, findings: Finding[]): AuthRoleSpec {
  const boundClaims = Object.fromEntries(
    Object.entries(raw.bound_claims ?? {}).map(([k, v]) => [k, (Array.isArray(v) ? v : [v]) as (string | number | boolean)[]]),
  );
  const skew = leeway(raw.clock_skew_leeway, DEFAULT_CLOCK_SKEW);
  const role: AuthRoleSpec = {
    mount,
    name,
    source,
    bound_audiences: list(raw.bound_audiences),
    bound_claims: boundClaims,
    bound_claims_type: raw.bound_claims_type ?? 'string',
    user_claim: raw.user_claim,
    claim_mappings: (raw.claim_mappings ?? {}) as Record<string, string>,
    token_policies: [...new Set([...list(raw.token_policies), ...list(raw.policies)])],
    token_ttl: durationSeconds(raw.token_ttl) ?? DEFAULT_TOKEN_TTL,
    token_max_ttl: durationSeconds(raw.token_max_ttl) ?? DEFAULT_TOKEN_MAX_TTL,
    clock_skew_leeway: skew,
    expiration_leeway: leeway(raw.expiration_leeway, DEFAULT_EXPIRY_LEEWAY),
    not_before_leeway: leeway(raw.not_before_leeway, DEFAULT_EXPIRY_LEEWAY),
  };
  if (raw.bound_subject !== undefined) role.bound_subject = raw.bound_subject;
  const explicitMax = durationSeconds(raw.token_explicit_max_ttl);
  if (explicitMax !== undefined) role.token_max_ttl = Math.min(role.token_max_ttl, explicitMax);
  if (raw.max_leases !== undefined) role.max_leases = raw.max_leases;
  if (raw.max_issue_rate !== undefined) role.max_issue_rate = parseIssueRate(raw.max_issue_rate);
  if (role.bound_audiences.length === 0 && role.bound_subject === undefined && Object.keys(boundClaims).length === 0) {
    findings.push({ pointer: '', message: 'must have at least one bound constraint when creating/updating a role (bound_audiences, bound_subject or bound_claims)' });
  }
  if (raw.token_ttl !== undefined && raw.token_max_ttl !== undefined && role.token_ttl > role.token_max_ttl) {
    findings.push({ pointer: '/token_ttl', message: 'ttl should not be greater than max ttl' });
  }
  if (role.bound_claims_type === 'string') {
    for (const [claim, values] of Object.entries(boundClaims)) {
      values.forEach((v, i) => {
        if (typeof v === 'string' && v.includes('*')) {
          findings.push({ pointer: `/bound_claims/${claim}${Array.isArray(raw.bound_claims![claim]) ? `/${i}` : ''}`, severity: 'warning', message: 'holds "*", which matches only itself unless bound_claims_type is "glob"' });
        }
      });
    }
  }
  return role;
}

/** `path` blocks, HCL's list form or JSON's object form, as rules; several blocks for one path add up. */
function aclRules(raw: AclPolicyFile, findings: Finding[]): AclPathRule[] {
  const rules: AclPathRule[] = [];
  for (const [path, blocks] of Object.entries(raw.path ?? {})) {
    const problem = aclPathProblem(path);
    if (problem) findings.push({ pointer: `/path/${path.replace(/~/g, '~0').replace(/\//g, '~1')}`, at: 'key', message: `path "${path}": ${problem}` });
    const caps = new Set<string>();
    for (const block of Array.isArray(blocks) ? blocks : [blocks]) for (const c of block?.capabilities ?? []) caps.add(c);
    if (caps.size === 0) {
      findings.push({ pointer: `/path/${path.replace(/~/g, '~0').replace(/\//g, '~1')}`, severity: 'warning', message: `path "${path}" grants no capabilities` });
    }
    rules.push({ path, capabilities: caps.has('deny') ? ['deny'] : [...caps].sort() });
  }
  return rules.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Adds the findings; true when one is an error. */
function report(ctx: LoadContext, source: SourceFile, findings: Finding[]): boolean {
  ctx.diagnostics.push(...toDiagnostics(source, findings));
  return findings.some((f) => (f.severity ?? 'error') === 'error');
}
