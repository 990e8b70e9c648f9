import type { Diagnostic } from '../errors.js';
import type {
  AccessChange,
  AccessGain,
  AppliedSnapshot,
  ChangeAction,
  DesiredModel,
  FieldChange,
  Lease,
  MountChange,
  MountConfig,
  Plan,
  RoleChange,
  RoleSpec,
  SinkChange,
  SinkSpec,
  StaticRoleChange,
  StaticRoleSpec,
} from '../model/types.js';
import { authRoleAddress, credentialPaths, reachablePaths } from './acl.js';
import {
  ACL_POLICY_FIELDS,
  AUTH_METHOD_FIELDS,
  AUTH_ROLE_FIELDS,
  MOUNT_FIELDS,
  ROLE_FIELDS,
  ROLE_FIELDS_THAT_ROTATE,
  SINK_CONFIG_PREFIX,
  SINK_FIELDS,
  STATIC_ROLE_FIELDS,
  SENSITIVE_PLACEHOLDER,
  isSensitiveKey,
  redactNested,
  sinkFieldRotates,
  type FieldDef,
} from './fields.js';
import { canonical, canonicalJson, compareStrings, uniqueSorted } from './normalise.js';
import { roleAddress } from '../schema/cross-file.js';
import { policyDelta } from './policy.js';

/**
 * The plan: what applying the desired model to the applied state changes, per
 * mount, role and sink, field by field. Pure. Unchanged things are left out;
 * everything is sorted by address so the same inputs give the same plan.
 */
export function makePlan(desired: DesiredModel, applied: AppliedSnapshot, leases: Lease[], warnings: Diagnostic[] = []): Plan {
  const mounts = pair(applied.mounts, Object.values(desired.config.mounts), (m) => m.name)
    .map(([before, after]) => mountChange(before, after))
    .filter((c): c is MountChange => c !== undefined);

  const sinks = pair(applied.sinks, desired.sinks, (s) => s.name)
    .map(([before, after]) => sinkChange(before, after))
    .filter((c): c is SinkChange => c !== undefined);
  const createdSinks = new Set(sinks.filter((s) => s.action === 'create').map((s) => s.name));

  const roles = pair(applied.roles, desired.roles, roleAddress)
    .map(([before, after]) => roleChange(before, after, { desired, leases, createdSinks }))
    .filter((c): c is RoleChange => c !== undefined);

  const staticRoles = pair(applied.staticRoles ?? [], desired.staticRoles ?? [], roleAddress)
    .map(([before, after]) => staticRoleChange(before, after))
    .filter((c): c is StaticRoleChange => c !== undefined);

  const { access, accessGains } = accessChanges(desired, applied);

  const all = [...mounts, ...roles, ...staticRoles, ...sinks, ...access];
  const count = (action: ChangeAction) => all.filter((c) => c.action === action).length;
  return {
    formatVersion: 1,
    repo: desired.repo,
    commit: desired.commit,
    state: { ...(applied.commit !== undefined && { commit: applied.commit }), serial: applied.serial },
    mounts,
    roles,
    staticRoles,
    sinks,
    ...((access.length || desired.access || applied.access) && { access, accessGains }),
    summary: { add: count('create'), change: count('update'), destroy: count('delete') },
    warnings: warnings
      .map(({ file, line, column, pointer, message }) => ({ file, line, column, pointer, message }))
      .sort((a, b) => compareStrings(a.file, b.file) || a.line - b.line || a.column - b.column || compareStrings(a.message, b.message)),
  };
}


/**
 * credops server's auth methods, auth roles and ACL policies, and what the
 * change newly lets in: for every auth role, the credential paths (of the
 * roles in the repo) its tokens reach after and did not before.
 */
function accessChanges(desired: DesiredModel, applied: AppliedSnapshot): { access: AccessChange[]; accessGains: AccessGain[] } {
  const before = applied.access;
  const after = desired.access;
  const gainsOf = new Map<string, string[]>();
  const reachBefore = reachablePaths(before, credentialPaths(applied.roles, applied.staticRoles ?? []));
  for (const [authRole, paths] of reachablePaths(after, credentialPaths(desired.roles, desired.staticRoles ?? []))) {
    const had = new Set(reachBefore.get(authRole) ?? []);
    const gained = paths.filter((p) => !had.has(p));
    if (gained.length) gainsOf.set(authRole, gained);
  }
  const accessGains = [...gainsOf].map(([authRole, paths]) => ({ authRole, paths })).sort((a, b) => compareStrings(a.authRole, b.authRole));
  const gainText = (g: AccessGain) => `auth role ${g.authRole} gains ${g.paths.join(', ')}`;

  const changes: AccessChange[] = [];
  const add = <T>(kind: AccessChange['kind'], defs: FieldDef<T>[], b: T | undefined, a: T | undefined, address: string, source: string | undefined, widens: string[]) => {
    const fields = diffFields(defs, b, a);
    if (fields.length) changes.push({ action: actionOf(b, a), kind, address, ...(source !== undefined && { source }), fields, widens: a ? widens : [] });
  };
  for (const [b, a] of pair(before?.auth ?? [], after?.auth ?? [], (m) => m.name)) {
    const name = (a ?? b)!.name;
    // The method lets nobody in by itself: its roles and policies say what widens.
    add('auth method', AUTH_METHOD_FIELDS, b, a, name, (a ?? b)!.source, []);
  }
  for (const [b, a] of pair(before?.roles ?? [], after?.roles ?? [], roleAddress)) {
    const address = authRoleAddress(a ?? b!);
    add('auth role', AUTH_ROLE_FIELDS, b, a, address, (a ?? b)!.source, accessGains.filter((g) => g.authRole === address).map(gainText));
  }
  for (const [b, a] of pair(before?.acl ?? [], after?.acl ?? [], (p) => p.name)) {
    const name = (a ?? b)!.name;
    const users = new Set((after?.roles ?? []).filter((r) => r.token_policies.includes(name)).map(authRoleAddress));
    add('acl policy', ACL_POLICY_FIELDS, b, a, name, (a ?? b)!.source, accessGains.filter((g) => users.has(g.authRole)).map(gainText));
  }
  return { access: changes, accessGains };
}

/** Matches items of the two sides by key, sorted by key. */
function pair<T>(before: T[], after: T[], key: (item: T) => string): [T | undefined, T | undefined][] {
  // Both sides are usually in key order already (the load sorts roles and sinks, the state keeps
  // the order applied): then one merge, without a map or a sort of 10,000 keys (issue #11).
  const keysBefore = before.map(key);
  const keysAfter = after.map(key);
  if (isSortedUnique(keysBefore) && isSortedUnique(keysAfter)) return merge(before, keysBefore, after, keysAfter);
  const pairs = new Map<string, [T | undefined, T | undefined]>();
  for (const item of before) pairs.set(key(item), [item, undefined]);
  for (const item of after) pairs.set(key(item), [pairs.get(key(item))?.[0], item]);
  return [...pairs.entries()].sort(([a], [b]) => compareStrings(a, b)).map(([, p]) => p);
}

function isSortedUnique(keys: string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (compareStrings(keys[i - 1]!, keys[i]!) >= 0) return false;
  return true;
}

function merge<T>(before: T[], keysBefore: string[], after: T[], keysAfter: string[]): [T | undefined, T | undefined][] {
  const out: [T | undefined, T | undefined][] = [];
  let i = 0;
  let j = 0;
  while (i < before.length || j < after.length) {
    const order = i === before.length ? 1 : j === after.length ? -1 : compareStrings(keysBefore[i]!, keysAfter[j]!);
    if (order === 0) out.push([before[i++], after[j++]]);
    else if (order < 0) out.push([before[i++], undefined]);
    else out.push([undefined, after[j++]]);
  }
  return out;
}

function actionOf(before: unknown, after: unknown): ChangeAction {
  return before === undefined ? 'create' : after === undefined ? 'delete' : 'update';
}

function fieldChange(field: string, before: unknown, after: unknown): FieldChange {
  return { field, ...(before !== undefined && { before }), ...(after !== undefined && { after }) };
}

function diffFields<T>(defs: FieldDef<T>[], before: T | undefined, after: T | undefined): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const def of defs) {
    const was = before === undefined ? undefined : def.get(before);
    const now = after === undefined ? undefined : def.get(after);
    if (canonicalJson(was) !== canonicalJson(now)) changes.push(fieldChange(def.name, was, now));
  }
  return changes;
}

function mountChange(before: MountConfig | undefined, after: MountConfig | undefined): MountChange | undefined {
  const fields = diffFields(MOUNT_FIELDS, before, after);
  if (!fields.length) return undefined;
  return { action: actionOf(before, after), name: (after ?? before)!.name, fields };
}

function roleChange(
  before: RoleSpec | undefined,
  after: RoleSpec | undefined,
  ctx: { desired: DesiredModel; leases: Lease[]; createdSinks: Set<string> },
): RoleChange | undefined {
  // Most roles of a large repo are unchanged: one structural comparison skips the field-by-field canonical diff.
  if (before && after && jsonEqual(before, after)) return undefined;
  const fields = diffFields(ROLE_FIELDS, before, after);
  if (!fields.length) return undefined;
  const role = (after ?? before)!;
  const action = actionOf(before, after);
  const policy = policyDelta(before, after);

  const rotates = action === 'update' && fields.some((f) => ROLE_FIELDS_THAT_ROTATE.has(f.field));
  const sinksToRotate = rotates
    ? uniqueSorted(ctx.desired.sinks.filter((s) => s.mount === role.mount && s.role === role.name && !ctx.createdSinks.has(s.name)).map((s) => s.name))
    : [];
  const leasesToRevoke = action === 'delete' ? ctx.leases.filter((l) => l.mount === role.mount && l.role === role.name).length : 0;

  return {
    action,
    mount: role.mount,
    name: role.name,
    source: role.source,
    fields,
    ...(policy && { policy }),
    leasesToRevoke,
    sinksToRotate,
  };
}

function staticRoleChange(before: StaticRoleSpec | undefined, after: StaticRoleSpec | undefined): StaticRoleChange | undefined {
  const fields = diffFields(STATIC_ROLE_FIELDS, before, after);
  if (!fields.length) return undefined;
  const role = (after ?? before)!;
  return { action: actionOf(before, after), mount: role.mount, name: role.name, source: role.source, fields };
}

function sinkChange(before: SinkSpec | undefined, after: SinkSpec | undefined): SinkChange | undefined {
  const fields = [...diffFields(SINK_FIELDS, before, after), ...diffConfig(before?.config, after?.config)];
  if (!fields.length) return undefined;
  const sink = (after ?? before)!;
  const action = actionOf(before, after);
  return {
    action,
    name: sink.name,
    source: sink.source,
    type: sink.type,
    fields,
    rotate: action === 'update' && fields.some((f) => sinkFieldRotates(f.field)),
  };
}

/**
 * Sink settings, key by key. A key named like a secret is compared but its
 * value never leaves this function (the plan says only whether it is set) (DESIGN invariant 2); nested members named
 * so are replaced before a value is put in the plan.
 */
function diffConfig(before: Record<string, unknown> | undefined, after: Record<string, unknown> | undefined): FieldChange[] {
  const keys = uniqueSorted([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  const changes: FieldChange[] = [];
  for (const key of keys) {
    const was = before?.[key];
    const now = after?.[key];
    if (canonicalJson(was) === canonicalJson(now)) continue;
    const field = `${SINK_CONFIG_PREFIX}${key}`;
    if (isSensitiveKey(key)) changes.push({ ...fieldChange(field, was === undefined ? undefined : SENSITIVE_PLACEHOLDER, now === undefined ? undefined : SENSITIVE_PLACEHOLDER), sensitive: true });
    else changes.push(fieldChange(field, was === undefined ? undefined : redactNested(canonical(was)), now === undefined ? undefined : redactNested(canonical(now))));
  }
  return changes;
}

/**
 * Equality of two JSON values (what a role spec is, in the repo and in the
 * state): the same keys, whatever their order, and equal values. Several
 * times faster than util.isDeepStrictEqual, which also weighs prototypes and
 * property descriptors that JSON data does not have (10,000 roles, issue #11).
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let keys = 0;
  for (const key in x) {
    if (!Object.hasOwn(y, key) || !jsonEqual(x[key], y[key])) return false;
    keys++;
  }
  for (const _key in y) keys--;
  return keys === 0;
}
