import type { ChangeAction, FieldChange, Plan, PolicyDelta } from '../model/types.js';
import { formatDuration } from '../duration.js';
import { SENSITIVE_PLACEHOLDER, fieldKind, isSensitiveField } from './fields.js';
import { lineDiff } from './line-diff.js';
import { compareStrings } from './normalise.js';

/**
 * The lines of one change, shared by the text and markdown renderers: `+`
 * added, `-` removed, `~` changed in place, ` ` context, `#` a note, `!` a risk.
 */
export type Marker = '+' | '-' | '~' | ' ' | '#' | '!';

export interface ChangeLine {
  marker: Marker;
  /** Nesting under a field (list items, tag keys, policy lines). */
  depth: number;
  text: string;
  /** For `~`: the old and the new line, for renderers that show a change as a removal and an addition. */
  split?: [string, string];
}

export interface ChangeBlock {
  action: ChangeAction;
  kind: 'mount' | 'role' | 'static role' | 'sink' | 'auth method' | 'auth role' | 'acl policy';
  /** `aws`, `aws/deploy`, `deploy-sm`. */
  address: string;
  source?: string;
  lines: ChangeLine[];
  /** Reasons the change widens access (roles only). */
  widens: string[];
  leasesToRevoke: number;
}

/** Every change of the plan in the order it is applied: mounts, roles, sinks. */
export function planBlocks(plan: Plan): ChangeBlock[] {
  const mounts = (plan.mounts ?? []).map(
    (m): ChangeBlock => ({ action: m.action, kind: 'mount', address: m.name, lines: fieldLines(m.action, m.fields), widens: [], leasesToRevoke: 0 }),
  );
  const roles = plan.roles.map((r): ChangeBlock => {
    const lines = [...fieldLines(r.action, r.fields), ...policyLines(r.policy)];
    if (r.leasesToRevoke > 0) lines.push(note(`${r.leasesToRevoke} ${r.leasesToRevoke === 1 ? 'lease' : 'leases'} will be revoked`));
    if (r.sinksToRotate.length) lines.push(note(`sinks to rotate: ${r.sinksToRotate.join(', ')}`));
    return { action: r.action, kind: 'role', address: `${r.mount}/${r.name}`, source: r.source, lines, widens: r.policy?.widens ? r.policy.reasons : [], leasesToRevoke: r.leasesToRevoke };
  });
  const statics = (plan.staticRoles ?? []).map((r): ChangeBlock => {
    const lines = fieldLines(r.action, r.fields);
    const user = r.fields.find((f) => f.field === 'username');
    const name = String(r.action === 'delete' ? user?.before : (user?.after ?? ''));
    if (r.action === 'create') lines.push(note(`credops makes a new access key for IAM user ${name} now; the user's other keys stay until its first rotation`));
    if (r.action === 'delete') lines.push(note(`credops stops rotating IAM user ${name}: the keys it made are deleted, the user is kept`));
    if (user && r.action === 'update') lines.push(note(`credops stops rotating IAM user ${String(user.before)} (its keys made by credops are deleted) and starts on ${String(user.after)}`));
    return { action: r.action, kind: 'static role', address: `${r.mount}/${r.name}`, source: r.source, lines, widens: [], leasesToRevoke: 0 };
  });
  const sinks = plan.sinks.map((s): ChangeBlock => {
    const lines = fieldLines(s.action, s.fields);
    if (s.rotate) lines.push(note('credential will be rotated'));
    return { action: s.action, kind: 'sink', address: s.name, source: s.source, lines, widens: [], leasesToRevoke: 0 };
  });
  const access = (plan.access ?? []).map((c): ChangeBlock => {
    const lines = [...fieldLines(c.action, c.fields), ...c.widens.map((w): ChangeLine => ({ marker: '!', depth: 0, text: `widens access: ${w}` }))];
    return { action: c.action, kind: c.kind, address: c.address, source: c.source, lines, widens: c.widens, leasesToRevoke: 0 };
  });
  return [...mounts, ...roles, ...statics, ...sinks, ...access];
}

export const ACCESS_HEADING = 'Access through credops server widens:';

/** One line per auth role that reaches credential paths it did not reach before. */
export function accessGainLines(plan: Plan): string[] {
  return (plan.accessGains ?? []).map((g) => `auth role ${g.authRole} gains ${g.paths.join(', ')}`);
}

export const ACTION_MARKERS: Record<ChangeAction, Marker> = { create: '+', update: '~', delete: '-' };

/** `role aws/deploy (roles/deploy.json)` */
export function blockTitle(block: ChangeBlock): string {
  return `${block.kind} ${block.address}${block.source ? ` (${block.source})` : ''}`;
}

/** Terminal- and log-safe: control characters (ANSI escapes included) shown as \uXXXX. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const note = (text: string): ChangeLine => ({ marker: '#', depth: 0, text });

function policyLines(policy: PolicyDelta | undefined): ChangeLine[] {
  if (!policy) return [];
  const lines: ChangeLine[] = [];
  if (policy.actionsAdded.length || policy.actionsRemoved.length) {
    lines.push({ marker: ' ', depth: 0, text: 'actions:' });
    for (const action of policy.actionsAdded) lines.push({ marker: '+', depth: 1, text: action });
    for (const action of policy.actionsRemoved) lines.push({ marker: '-', depth: 1, text: action });
  }
  if (policy.widens) for (const reason of policy.reasons) lines.push({ marker: '!', depth: 0, text: `widens access: ${reason}` });
  return lines;
}

export function fieldLines(action: ChangeAction, fields: FieldChange[]): ChangeLine[] {
  return fields.flatMap((f) => fieldChangeLines(action, f));
}

function fieldChangeLines(action: ChangeAction, f: FieldChange): ChangeLine[] {
  const marker: Marker = f.before === undefined && f.after !== undefined ? '+' : f.after === undefined && f.before !== undefined ? '-' : f.before === undefined ? ACTION_MARKERS[action] : '~';
  if (f.sensitive || isSensitiveField(f.field)) return [scalarLine(marker, 0, f.field, SENSITIVE_PLACEHOLDER, SENSITIVE_PLACEHOLDER)];

  const kind = fieldKind(f.field);
  if (kind === 'set' && isList(f.before) && isList(f.after)) {
    const was = (f.before ?? []).map(String);
    const now = (f.after ?? []).map(String);
    return [
      { marker, depth: 0, text: `${f.field}:` },
      ...now.filter((x) => !was.includes(x)).map((x): ChangeLine => ({ marker: '+', depth: 1, text: x })),
      ...was.filter((x) => !now.includes(x)).map((x): ChangeLine => ({ marker: '-', depth: 1, text: x })),
    ];
  }
  if (kind === 'map' && isRecord(f.before) && isRecord(f.after)) {
    const was = f.before ?? {};
    const now = f.after ?? {};
    const keys = [...new Set([...Object.keys(was), ...Object.keys(now)])].sort(compareStrings);
    const lines: ChangeLine[] = [{ marker, depth: 0, text: `${f.field}:` }];
    for (const key of keys) {
      const [b, a] = [was[key], now[key]];
      if (b === a) continue;
      const m: Marker = b === undefined ? '+' : a === undefined ? '-' : '~';
      lines.push(scalarLine(m, 1, key, b === undefined ? '' : JSON.stringify(b), a === undefined ? '' : JSON.stringify(a)));
    }
    return lines;
  }
  if (kind === 'policy') {
    const pretty = (doc: unknown) => (doc === undefined ? [] : JSON.stringify(doc, null, 2).split('\n'));
    return [
      { marker, depth: 0, text: `${f.field}:` },
      ...lineDiff(pretty(f.before), pretty(f.after)).map((l): ChangeLine => ({ marker: l.op, depth: 1, text: l.text })),
    ];
  }
  const show = kind === 'duration' ? showDuration : showValue;
  return [scalarLine(marker, 0, f.field, show(f.before), show(f.after))];
}

function scalarLine(marker: Marker, depth: number, name: string, before: string, after: string): ChangeLine {
  if (marker === '+') return { marker, depth, text: `${name}: ${after}` };
  if (marker === '-') return { marker, depth, text: `${name}: ${before}` };
  return { marker, depth, text: `${name}: ${before} -> ${after}`, split: [`${name}: ${before}`, `${name}: ${after}`] };
}

function showValue(value: unknown): string {
  return value === undefined ? '(unset)' : JSON.stringify(value);
}

function showDuration(value: unknown): string {
  return typeof value === 'number' ? formatDuration(value) : showValue(value);
}

function isList(value: unknown): value is unknown[] | undefined {
  return value === undefined || Array.isArray(value);
}

function isRecord(value: unknown): value is Record<string, unknown> | undefined {
  return value === undefined || (value !== null && typeof value === 'object' && !Array.isArray(value));
}
