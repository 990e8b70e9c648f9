import { UserError } from '../errors.js';
import { DRIFT_KINDS, type AccessChange, type AccessGain, type ChangeAction, type DriftItem, type DriftKind, type FieldChange, type MountChange, type Plan, type PolicyDelta, type RoleChange, type SinkChange, type SinkWork, type StaticRoleChange } from '../model/types.js';
import { sortDrift } from './drift-lines.js';
import { SENSITIVE_PLACEHOLDER, isSensitiveField } from './fields.js';
import { compareStrings } from './normalise.js';

/**
 * The saved-plan file and `plan --format json` (docs/plan-json.md). Bump it
 * on any change a reader of version 1 would misread; readers refuse others.
 */
export const PLAN_JSON_FORMAT_VERSION = '1';

const ACTIONS: readonly ChangeAction[] = ['create', 'update', 'delete'];

export function renderJson(plan: Plan): string {
  const roles = [...plan.roles].sort((a, b) => compareStrings(a.mount, b.mount) || compareStrings(a.name, b.name));
  const byName = <T extends { name: string }>(items: T[]) => [...items].sort((a, b) => compareStrings(a.name, b.name));
  const json = {
    format_version: PLAN_JSON_FORMAT_VERSION,
    repo: plan.repo,
    commit: plan.commit,
    state: { commit: plan.state.commit ?? null, serial: plan.state.serial },
    summary: { add: plan.summary.add, change: plan.summary.change, destroy: plan.summary.destroy },
    mounts: byName(plan.mounts ?? []).map((m) => ({ action: m.action, name: m.name, fields: m.fields.map(fieldJson) })),
    roles: roles.map((r) => ({
      action: r.action,
      mount: r.mount,
      name: r.name,
      source: r.source ?? null,
      fields: r.fields.map(fieldJson),
      policy: r.policy
        ? { actions_added: r.policy.actionsAdded, actions_removed: r.policy.actionsRemoved, widens: r.policy.widens, reasons: r.policy.reasons }
        : null,
      leases_to_revoke: r.leasesToRevoke,
      sinks_to_rotate: [...r.sinksToRotate].sort(compareStrings),
    })),
    static_roles: (plan.staticRoles ?? []).map((r) => ({ action: r.action, mount: r.mount, name: r.name, source: r.source ?? null, fields: r.fields.map(fieldJson) })),
    ...(plan.access && {
      access: plan.access.map((c) => ({ action: c.action, kind: c.kind, address: c.address, source: c.source ?? null, fields: c.fields.map(fieldJson), widens: c.widens })),
      access_gains: (plan.accessGains ?? []).map((g) => ({ auth_role: g.authRole, paths: g.paths })),
    }),
    sinks: byName(plan.sinks).map((s) => ({
      action: s.action,
      name: s.name,
      source: s.source ?? null,
      type: s.type,
      fields: s.fields.map(fieldJson),
      rotate: s.rotate ?? false,
    })),
    warnings: [...plan.warnings]
      .sort((a, b) => compareStrings(a.file, b.file) || a.line - b.line || a.column - b.column || compareStrings(a.message, b.message))
      .map((w) => ({ file: w.file, line: w.line, column: w.column, pointer: w.pointer, message: w.message })),
    // Only with --refresh: absent means AWS was not checked, [] that nothing drifted.
    ...(plan.drift && { drift: sortDrift(plan.drift).map((d) => ({ lease_id: d.leaseId, sink: d.sink ?? null, kind: d.kind, detail: d.detail })) }),
    ...(plan.staticRotations && {
      static_rotations: plan.staticRotations.map((r) => ({ mount: r.mount, name: r.name, username: r.username, next_rotation: r.at === undefined ? null : new Date(r.at).toISOString(), due: r.due ?? null })),
    }),
    ...(plan.sinkWork && { sink_work: [...plan.sinkWork].sort((a, b) => compareStrings(a.sink, b.sink)).map((w) => ({ sink: w.sink, work: w.work, reason: w.reason })) }),
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}

/** A sensitive field keeps its name and whether it is set, never its value, even if a caller put it in the plan. */
function fieldJson(f: FieldChange): Record<string, unknown> {
  return { field: f.field, ...presence(f, f.sensitive || isSensitiveField(f.field)) };
}

function presence(f: { before?: unknown; after?: unknown }, sensitive: boolean): Partial<FieldChange> {
  const show = (value: unknown) => (sensitive ? SENSITIVE_PLACEHOLDER : value);
  return {
    ...(f.before !== undefined && { before: show(f.before) }),
    ...(f.after !== undefined && { after: show(f.after) }),
    ...(sensitive && { sensitive: true }),
  };
}

/** Reads a saved plan (`plan --out`). Throws UserError on anything but a version-1 credops plan. */
export function parsePlanJson(text: string): Plan {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UserError(`not a credops plan file: invalid JSON (${(err as Error).message})`);
  }
  if (!isObject(data) || !('format_version' in data)) throw new UserError('not a credops plan file: no "format_version"');
  if (data.format_version !== PLAN_JSON_FORMAT_VERSION) {
    throw new UserError(
      `plan file format_version ${JSON.stringify(data.format_version)} is not supported (this credops reads "${PLAN_JSON_FORMAT_VERSION}"); run credops plan again`,
    );
  }
  const r = new Reader(data, '');
  const state = r.object('state');
  const summary = r.object('summary');
  const stateCommit = state.optionalString('commit');
  return {
    formatVersion: 1,
    repo: r.string('repo'),
    commit: r.string('commit'),
    state: { ...(stateCommit !== undefined && { commit: stateCommit }), serial: state.integer('serial') },
    mounts: r.list('mounts').map((m): MountChange => ({ action: m.action(), name: m.string('name'), fields: fieldsOf(m) })),
    roles: r.list('roles').map((c): RoleChange => {
      const source = c.optionalString('source');
      const policy = c.optionalObject('policy');
      return {
        action: c.action(),
        mount: c.string('mount'),
        name: c.string('name'),
        ...(source !== undefined && { source }),
        fields: fieldsOf(c),
        ...(policy && { policy: policyOf(policy) }),
        leasesToRevoke: c.integer('leases_to_revoke'),
        sinksToRotate: c.strings('sinks_to_rotate'),
      };
    }),
    ...(r.has('static_roles') && {
      staticRoles: r.list('static_roles').map((c): StaticRoleChange => {
        const source = c.optionalString('source');
        return { action: c.action(), mount: c.string('mount'), name: c.string('name'), ...(source !== undefined && { source }), fields: fieldsOf(c) };
      }),
    }),
    sinks: r.list('sinks').map((c): SinkChange => {
      const source = c.optionalString('source');
      return {
        action: c.action(),
        name: c.string('name'),
        ...(source !== undefined && { source }),
        type: c.string('type'),
        fields: fieldsOf(c),
        rotate: c.boolean('rotate'),
      };
    }),
    summary: { add: summary.integer('add'), change: summary.integer('change'), destroy: summary.integer('destroy') },
    warnings: r.list('warnings').map((w) => ({
      file: w.string('file'),
      line: w.integer('line'),
      column: w.integer('column'),
      pointer: w.string('pointer'),
      message: w.string('message'),
    })),
    ...(r.has('drift') && {
      drift: r.list('drift').map((d): DriftItem => {
        const sink = d.optionalString('sink');
        return { leaseId: d.string('lease_id'), ...(sink !== undefined && { sink }), kind: d.driftKind(), detail: d.string('detail') };
      }),
    }),
    ...(r.has('access') && {
      access: r.list('access').map((c): AccessChange => {
        const source = c.optionalString('source');
        return { action: c.action(), kind: c.accessKind(), address: c.string('address'), ...(source !== undefined && { source }), fields: fieldsOf(c), widens: c.strings('widens') };
      }),
      accessGains: r.list('access_gains').map((g): AccessGain => ({ authRole: g.string('auth_role'), paths: g.strings('paths') })),
    }),
    ...(r.has('sink_work') && {
      sinkWork: r.list('sink_work').map((w): SinkWork => ({ sink: w.string('sink'), work: w.sinkWorkKind(), reason: w.string('reason') })),
    }),
  };
}

function fieldsOf(change: Reader): FieldChange[] {
  return change.list('fields').map((f) => {
    const field = f.string('field');
    const values = { ...(f.has('before') && { before: f.raw('before') }), ...(f.has('after') && { after: f.raw('after') }) };
    return { field, ...presence(values, f.has('sensitive') && f.boolean('sensitive')) };
  });
}

function policyOf(p: Reader): PolicyDelta {
  return { actionsAdded: p.strings('actions_added'), actionsRemoved: p.strings('actions_removed'), widens: p.boolean('widens'), reasons: p.strings('reasons') };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Typed access to one object of the file; a wrong member names its JSON pointer. */
class Reader {
  constructor(
    private readonly data: Record<string, unknown>,
    private readonly pointer: string,
  ) {}

  private fail(key: string, expected: string): never {
    throw new UserError(`not a valid credops plan file: ${this.pointer}/${key} must be ${expected}`);
  }

  has(key: string): boolean {
    return key in this.data;
  }

  raw(key: string): unknown {
    return this.data[key];
  }

  string(key: string): string {
    const value = this.data[key];
    return typeof value === 'string' ? value : this.fail(key, 'a string');
  }

  optionalString(key: string): string | undefined {
    const value = this.data[key];
    return value === undefined || value === null ? undefined : this.string(key);
  }

  integer(key: string): number {
    const value = this.data[key];
    return Number.isSafeInteger(value) && (value as number) >= 0 ? (value as number) : this.fail(key, 'a whole number');
  }

  boolean(key: string): boolean {
    const value = this.data[key];
    return typeof value === 'boolean' ? value : this.fail(key, 'true or false');
  }

  strings(key: string): string[] {
    const value = this.data[key];
    return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : this.fail(key, 'an array of strings');
  }

  action(): ChangeAction {
    const value = this.data.action;
    return ACTIONS.includes(value as ChangeAction) ? (value as ChangeAction) : this.fail('action', `one of ${ACTIONS.join(', ')}`);
  }

  sinkWorkKind(): SinkWork['work'] {
    const value = this.string('work');
    return value === 'issue' || value === 'renew' || value === 'rotate' ? value : this.fail('work', 'one of issue, renew, rotate');
  }

  accessKind(): AccessChange['kind'] {
    const value = this.string('kind');
    return value === 'auth method' || value === 'auth role' || value === 'acl policy' ? value : this.fail('kind', 'one of auth method, auth role, acl policy');
  }

  driftKind(): DriftKind {
    const value = this.data.kind;
    return DRIFT_KINDS.includes(value as DriftKind) ? (value as DriftKind) : this.fail('kind', `one of ${DRIFT_KINDS.join(', ')}`);
  }

  object(key: string): Reader {
    const value = this.data[key];
    return isObject(value) ? new Reader(value, `${this.pointer}/${key}`) : this.fail(key, 'an object');
  }

  optionalObject(key: string): Reader | undefined {
    const value = this.data[key];
    return value === undefined || value === null ? undefined : this.object(key);
  }

  list(key: string): Reader[] {
    const value = this.data[key];
    if (!Array.isArray(value)) return this.fail(key, 'an array');
    return value.map((item, index) => (isObject(item) ? new Reader(item, `${this.pointer}/${key}/${index}`) : this.fail(`${key}/${index}`, 'an object')));
  }
}
