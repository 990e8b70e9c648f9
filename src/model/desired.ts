import type { Diagnostic } from '../errors.js';
import { ValidationError } from '../errors.js';
import { readRepo, type ReadRepoOptions, type RepoFile, type RepoSnapshot } from '../repo/index.js';
import { sinkTypes } from '../schema/ajv.js';
import { assignRoleFiles, checkSinkTarget, policyReference, type MountGlob } from '../schema/cross-file.js';
import { toDiagnostics, type Finding } from '../schema/finding.js';
import { parseJsonSource } from '../schema/json-source.js';
import { parseSource } from '../schema/parse-source.js';
import { lintPolicyDocument, lintRoleLimits, rebase } from '../schema/policy-lint.js';
import { CONFIG_RULES, ROLE_RULES, runRules, SINK_RULES } from '../schema/rules.js';
import type { SourceFile } from '../schema/source-file.js';
import { validateAgainstSchema } from '../schema/validate-document.js';
import { commaList, credentialTypesOf, durationSeconds, kvPairs, legacyOf, nonEmptyString } from '../schema/vault-values.js';
import { parseDuration } from '../engine/ttl.js';
import type { ConfigFile, Mount, RoleFile, SinkFile } from './schema-types.js';
import type { DesiredModel, EngineConfig, MountConfig, PolicyDocument, RoleSpec, SinkSpec } from './types.js';

/**
 * From a secrets repo to the desired model: every file parsed with positions,
 * validated against schemas/, Vault's rules, cross-file references and the
 * policy lint, then normalised (RoleSpec, SinkSpec, MountConfig). One error
 * anywhere and there is no model (DESIGN invariant 4).
 */

export type LoadDesiredOptions = ReadRepoOptions;

/** Reads and validates the repo; throws ValidationError (every diagnostic, errors and warnings) if anything is wrong. */
export async function loadDesired(opts: LoadDesiredOptions): Promise<{ model: DesiredModel; warnings: Diagnostic[] }> {
  return desiredFromSnapshot(await readRepo(opts));
}

/** validateSnapshot, throwing ValidationError when there is an error. */
export function desiredFromSnapshot(snapshot: RepoSnapshot): { model: DesiredModel; warnings: Diagnostic[] } {
  const { model, diagnostics } = validateSnapshot(snapshot);
  if (!model) throw new ValidationError(diagnostics);
  return { model, warnings: diagnostics };
}

export const CONFIG_FILES = ['credops.yaml', 'credops.yml'];
const DEFAULT_POLICY_GLOB = /^policies\/.+\.json$/;
const SINK_FILE = /^sinks\/[^/]+\.(?:ya?ml|json)$/;
const DEFAULT_GRACE_SECONDS = 300;

/** Validates a snapshot in memory; `model` is set only when there is no error. Diagnostics sorted by file, line, column. */
export function validateSnapshot(snapshot: RepoSnapshot): { model?: DesiredModel; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const files = new Map(snapshot.files.map((f) => [f.path, f]));

  const parse = (file: RepoFile): SourceFile | undefined => {
    if (file.problem) {
      diagnostics.push({ file: file.path, line: file.problem.line, column: file.problem.column, pointer: '', severity: 'error', message: file.problem.message });
      return undefined;
    }
    const source = parseSource(file.path, file.text);
    diagnostics.push(...source.diagnostics);
    return source.value === undefined ? undefined : source;
  };
  /** Schema, then (only if the schema passed) the rule table. */
  const check = <T>(source: SourceFile, kind: 'role' | 'sink' | 'config' | 'policy', rules?: Parameters<typeof runRules<T>>[0]): T | undefined => {
    const findings = validateAgainstSchema(kind, source.value);
    if (findings.length === 0 && rules) findings.push(...runRules(rules, source.value as T));
    const found = toDiagnostics(source, findings);
    diagnostics.push(...found);
    return found.some((d) => d.severity === 'error') ? undefined : (source.value as T);
  };

  // 1. credops.yaml
  const configFile = CONFIG_FILES.map((p) => files.get(p)).find(Boolean);
  const configSource = configFile ? parse(configFile) : undefined;
  const rawConfig = configSource ? check<ConfigFile>(configSource, 'config', CONFIG_RULES) : undefined;
  const config = rawConfig ? normaliseConfig(rawConfig) : !configFile ? normaliseConfig(defaultConfig()) : undefined;
  // A broken credops.yaml still lets the role files be checked, against the globs it does state.
  const mountGlobs: MountGlob[] = config ? Object.values(config.mounts) : fallbackGlobs(configSource?.value);

  // 2. role files -> mounts
  const assigned = assignRoleFiles([...files.keys()], mountGlobs);
  diagnostics.push(...assigned.diagnostics);

  // 3. policy files
  const policies = new Map<string, { doc?: PolicyDocument }>();
  for (const file of snapshot.files) {
    if (!DEFAULT_POLICY_GLOB.test(file.path)) continue;
    const source = parse(file);
    const doc = source ? check<PolicyDocument>(source, 'policy') : undefined;
    if (source && doc) diagnostics.push(...toDiagnostics(source, lintPolicyDocument(doc)));
    policies.set(file.path, { doc: doc ? withoutSchemaKey(doc) : undefined });
  }

  // 4. roles
  const roles: RoleSpec[] = [];
  const rolesByMount = new Map<string, Map<string, RoleSpec | null>>();
  for (const { mount, name, path } of assigned.roles) {
    const byName = rolesByMount.get(mount) ?? new Map<string, RoleSpec | null>();
    rolesByMount.set(mount, byName);
    byName.set(name, null);
    const source = parse(files.get(path)!);
    const raw = source ? check<RoleFile>(source, 'role', ROLE_RULES) : undefined;
    if (!source || !raw) continue;
    const policy = resolveRolePolicy(raw, source, policies, diagnostics);
    if (policy === 'invalid') continue;
    const role = normaliseRole(raw, { mount, name, source: path }, policy);
    const limits = lintRoleLimits(role, `/${policy?.field ?? 'policy_document'}`);
    diagnostics.push(...toDiagnostics(source, limits));
    if (!limits.some((f) => f.severity !== 'warning')) {
      byName.set(name, role);
      roles.push(role);
    }
  }

  // 5. sinks
  const sinks: SinkSpec[] = [];
  const types = sinkTypes();
  for (const file of snapshot.files) {
    if (!SINK_FILE.test(file.path)) continue;
    const source = parse(file);
    const raw = source ? check<SinkFile>(source, 'sink', SINK_RULES) : undefined;
    if (!source || !raw) continue;
    const mounts = mountGlobs.map((m) => m.name);
    const target = checkSinkTarget(raw, mounts, rolesByMount.get(raw.mount ?? 'aws'));
    diagnostics.push(...toDiagnostics(source, target));
    if (target.length === 0) sinks.push(normaliseSink(raw, file.path, types));
  }

  diagnostics.sort(byPosition);
  if (!config || diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  roles.sort((a, b) => compare(a.mount, b.mount) || compare(a.name, b.name));
  sinks.sort((a, b) => compare(a.name, b.name));
  return { model: { repo: snapshot.source, commit: snapshot.commit, config, roles, sinks }, diagnostics };
}

type ResolvedPolicy = { field: 'policy_document' | 'policy'; doc: PolicyDocument; file?: string } | undefined;

/**
 * The role's policy as a document: inline object, JSON string (Vault's form,
 * checked against the policy schema with positions inside the string), or
 * "@policies/NAME.json". Reports problems; 'invalid' when there was one.
 */
function resolveRolePolicy(raw: RoleFile, source: SourceFile, policies: Map<string, { doc?: PolicyDocument }>, diagnostics: Diagnostic[]): ResolvedPolicy | 'invalid' {
  const legacy = legacyOf(raw);
  const field = legacy?.field === 'policy' ? 'policy' : 'policy_document';
  const value = field === 'policy' ? raw.policy : raw.policy_document;
  const pointer = `/${field}`;
  if (value === null || value === undefined || value === '') return undefined;

  if (typeof value === 'object') {
    const doc = withoutSchemaKey(value as PolicyDocument);
    const lint = rebase(lintPolicyDocument(doc), pointer);
    diagnostics.push(...toDiagnostics(source, lint));
    return lint.some((f) => f.severity !== 'warning') ? 'invalid' : { field, doc };
  }

  const ref = policyReference(value);
  if (ref !== undefined) {
    const policy = policies.get(ref);
    if (!policy) {
      diagnostics.push(...toDiagnostics(source, [{ pointer, message: `policy file ${ref} does not exist` }]));
      return 'invalid';
    }
    // Each role gets its own copy: later stages must not see one role's edits in another.
    return policy.doc ? { field, doc: structuredClone(policy.doc), file: ref } : 'invalid';
  }

  // A JSON string: map positions inside the string back to the role file.
  const inner = source.textPosition?.(pointer) ?? (() => source.position(pointer));
  const embedded = parseJsonSource(source.path, value, inner);
  if (embedded.value === undefined) {
    diagnostics.push(...embedded.diagnostics.map((d) => ({ ...d, pointer, message: `is not valid JSON: ${d.message.replace(/^invalid JSON: /, '')}` })));
    return 'invalid';
  }
  const findings: Finding[] = [...validateAgainstSchema('policy', embedded.value)];
  if (findings.length === 0) findings.push(...lintPolicyDocument(embedded.value as PolicyDocument));
  diagnostics.push(...toDiagnostics(embedded, findings).map((d) => ({ ...d, pointer: pointer + d.pointer })));
  return findings.some((f) => f.severity !== 'warning') ? 'invalid' : { field, doc: withoutSchemaKey(embedded.value as PolicyDocument) };
}

function normaliseRole(raw: RoleFile, where: { mount: string; name: string; source: string }, policy: ResolvedPolicy): RoleSpec {
  const legacy = legacyOf(raw);
  const credential_types = credentialTypesOf(raw);
  const role: RoleSpec = {
    ...where,
    credential_types,
    policy_arns: commaList(raw.policy_arns),
    iam_groups: commaList(raw.iam_groups),
    role_arns: commaList(raw.role_arns),
    iam_tags: kvPairs(raw.iam_tags),
    session_tags: kvPairs(raw.session_tags),
  };
  if (legacy?.field === 'arn') (credential_types[0] === 'assumed_role' ? role.role_arns : role.policy_arns).push(legacy.value);
  if (policy) role.policy_document = policy.doc;
  if (policy?.file) role.policy_file = policy.file;
  const optional = {
    default_sts_ttl: durationSeconds(raw.default_sts_ttl),
    max_sts_ttl: durationSeconds(raw.max_sts_ttl),
    user_path: nonEmptyString(raw.user_path),
    permissions_boundary_arn: nonEmptyString(raw.permissions_boundary_arn),
    external_id: nonEmptyString(raw.external_id),
    mfa_serial_number: nonEmptyString(raw.mfa_serial_number),
  };
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) (role as unknown as Record<string, unknown>)[k] = v;
  return role;
}

function normaliseSink(raw: SinkFile, path: string, types: readonly string[]): SinkSpec {
  const type = types.find((t) => raw[t] !== undefined)!;
  const config = { ...(raw[type] as Record<string, unknown>) };
  if (type === 'file' && config.format === 'ini' && config.profile === undefined) config.profile = 'default';
  const sink: SinkSpec = {
    name: path.slice(path.lastIndexOf('/') + 1).replace(/\.(?:ya?ml|json)$/i, ''),
    source: path,
    mount: raw.mount ?? 'aws',
    role: raw.role,
    type,
    config,
    grace: raw.grace === null || raw.grace === undefined || raw.grace === '' ? DEFAULT_GRACE_SECONDS : parseDuration(raw.grace),
    deletion_policy: raw.deletion_policy ?? 'delete',
    verify: raw.verify ?? true,
  };
  const ttl = durationSeconds(raw.ttl);
  const renew = durationSeconds(raw.renew_before);
  if (ttl !== undefined) sink.ttl = ttl;
  if (renew !== undefined) sink.renew_before = renew;
  if (raw.role_arn !== undefined) sink.role_arn = raw.role_arn;
  return sink;
}

/** What a repo without credops.yaml means: one mount "aws" with Vault's defaults. */
function defaultConfig(): ConfigFile {
  const config: ConfigFile = { version: 1 };
  // The schema fills in the defaults (mounts.aws, lease, lease_max, roles).
  validateAgainstSchema('config', config);
  return config;
}

function normaliseConfig(raw: ConfigFile): EngineConfig {
  const mounts: Record<string, MountConfig> = {};
  for (const [name, m] of Object.entries(raw.mounts ?? {}) as [string, Mount][]) {
    const mount: MountConfig = {
      name,
      lease: parseDuration(m.lease as string | number),
      lease_max: parseDuration(m.lease_max as string | number),
      roles: m.roles!,
    };
    for (const key of ['region', 'iam_endpoint', 'sts_endpoint', 'max_retries', 'username_template'] as const) {
      if (m[key] !== undefined) (mount as unknown as Record<string, unknown>)[key] = m[key];
    }
    mounts[name] = mount;
  }
  const config: EngineConfig = { mounts };
  if (raw.state !== undefined) config.state = raw.state;
  if (raw.audit_log !== undefined) config.audit_log = raw.audit_log;
  return config;
}

function fallbackGlobs(value: unknown): MountGlob[] {
  const mounts = (value as { mounts?: unknown } | undefined)?.mounts;
  if (!mounts || typeof mounts !== 'object') return [{ name: 'aws', roles: 'roles/*.json' }];
  return Object.entries(mounts as Record<string, unknown>).flatMap(([name, m]) => {
    const roles = (m as { roles?: unknown } | null)?.roles;
    if (typeof roles === 'string') return [{ name, roles }];
    return name === 'aws' ? [{ name, roles: 'roles/*.json' }] : [];
  });
}

/** "$schema" is for editors; AWS refuses unknown keys in a policy. */
function withoutSchemaKey(doc: PolicyDocument): PolicyDocument {
  if (!Object.hasOwn(doc, '$schema')) return doc;
  const { $schema: _schema, ...rest } = doc as PolicyDocument & { $schema?: string };
  return rest;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byPosition(a: Diagnostic, b: Diagnostic): number {
  return compare(a.file, b.file) || a.line - b.line || a.column - b.column || compare(a.message, b.message);
}
