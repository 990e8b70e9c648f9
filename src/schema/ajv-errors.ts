import type { ErrorObject } from 'ajv';
import { pointerToken, valueAt } from './source-file.js';
import { preview, type Finding } from './finding.js';

type AjvError = ErrorObject & { parentSchema?: Record<string, unknown>; propertyName?: string };

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

/** Keywords whose message reads better with the offending value after it. */
const SHOW_FOUND = new Set(['type', 'pattern', 'enum', 'const', 'format', 'anyOf', 'oneOf', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'propertyNames']);

/**
 * Turns ajv's errors (allErrors, verbose) into one finding per real problem:
 * - the "if" error that only says a "then" failed is dropped (the then's own errors stay);
 * - an anyOf/oneOf and the errors of its branches become one message;
 * - a schema's "errorMessage" annotation replaces ajv's wording;
 * - unknown keys and bad key names point at the key, with a "did you mean".
 */
export function explainAjvErrors(errors: readonly ErrorObject[] | null | undefined, data: unknown): Finding[] {
  const list = (errors ?? []) as AjvError[];
  const consumed = new Set<number>();
  const findings: Finding[] = [];
  const seen = new Set<string>();
  const add = (f: Finding) => {
    const key = `${f.pointer}\u0000${f.message}`;
    if (seen.has(key)) return;
    seen.add(key);
    findings.push(f);
  };

  // Alternatives first: their branch errors come before them in ajv's list.
  for (let i = 0; i < list.length; i++) {
    const e = list[i]!;
    if (e.keyword !== 'anyOf' && e.keyword !== 'oneOf') continue;
    const prefix = `${e.schemaPath}/`;
    const branches = new Map<number, number[]>();
    for (let j = 0; j < i; j++) {
      const sub = list[j]!;
      if (consumed.has(j) || !sub.schemaPath.startsWith(prefix)) continue;
      consumed.add(j);
      const index = Number(sub.schemaPath.slice(prefix.length).split('/')[0]);
      branches.set(index, [...(branches.get(index) ?? []), j]);
    }
    consumed.add(i);
    const explained = explainAlternatives(e, branches, list, data);
    if (Array.isArray(explained)) for (const j of explained) consumed.delete(j);
    else add(explained);
  }

  for (let i = 0; i < list.length; i++) {
    if (consumed.has(i)) continue;
    const f = explainOne(list[i]!, data);
    if (f) add(f);
  }
  return findings;
}

function explainAlternatives(e: AjvError, branches: Map<number, number[]>, list: AjvError[], data: unknown): Finding | number[] {
  const value = valueAt(data, e.instancePath);
  const custom = customMessage(e);
  if (custom) return { pointer: e.instancePath, message: `${custom} (found ${preview(value)})` };

  const alternatives = ((e.parentSchema?.[e.keyword] as Record<string, unknown>[] | undefined) ?? []);
  const requiredOnly = alternatives.every((s) => Object.keys(s).length === 1 && Array.isArray(s.required) && s.required.length === 1);
  if (requiredOnly) {
    const names = alternatives.map((s) => (s.required as string[])[0]!);
    const present = names.filter((n) => value !== null && typeof value === 'object' && Object.hasOwn(value, n));
    const verb = e.keyword === 'oneOf' ? 'exactly one of' : 'one of';
    return { pointer: e.instancePath, message: `must have ${verb} ${names.join(', ')} (found ${present.length ? present.join(', ') : 'none'})` };
  }

  // A branch whose type matched the value explains the problem best.
  const candidates = [...branches.entries()].filter(([, idx]) => !idx.some((j) => list[j]!.keyword === 'type' && list[j]!.instancePath === e.instancePath));
  if (candidates.length > 0) {
    candidates.sort((a, b) => a[1].length - b[1].length);
    return candidates[0]![1];
  }
  const types = alternatives.flatMap((s) => (s.type === undefined ? [] : ([] as string[]).concat(s.type as string | string[])));
  const message = types.length > 0 ? `must be ${joinOr(types.map((t) => TYPE_NAMES[t] ?? t))}` : 'does not match any allowed form';
  return { pointer: e.instancePath, message: `${message} (found ${preview(value)})` };
}

function explainOne(e: AjvError, data: unknown): Finding | undefined {
  if (e.keyword === 'if' || e.keyword === 'propertyNames') return undefined;
  const params = e.params as Record<string, unknown>;

  if (e.keyword === 'additionalProperties' || e.keyword === 'unevaluatedProperties') {
    const name = String(params.additionalProperty ?? params.unevaluatedProperty);
    const known = Object.keys((e.parentSchema?.properties as object | undefined) ?? {}).filter((k) => k !== '$schema');
    const guess = closest(name, known);
    return {
      pointer: `${e.instancePath}/${pointerToken(name)}`,
      at: 'key',
      message: `unknown field "${name}"${guess ? ` (did you mean "${guess}"?)` : known.length ? `; expected one of ${known.join(', ')}` : ''}`,
    };
  }

  if (e.propertyName !== undefined) {
    const pointer = `${e.instancePath}/${pointerToken(e.propertyName)}`;
    const custom = customMessage(e);
    return { pointer, at: 'key', message: `key ${custom ?? defaultMessage(e)} (found ${preview(e.propertyName)})` };
  }

  const value = valueAt(data, e.instancePath);
  if (e.keyword === 'required') {
    return { pointer: e.instancePath, message: customMessage(e) ?? `missing required field "${String(params.missingProperty)}"` };
  }
  const custom = e.keyword === 'type' ? undefined : customMessage(e);
  const message = custom ?? defaultMessage(e);
  const found = SHOW_FOUND.has(e.keyword) && !(custom && e.keyword === 'enum') ? ` (found ${preview(value)})` : custom ? '' : lengthFound(e.keyword, value);
  return { pointer: e.instancePath, message: message + found };
}

function customMessage(e: AjvError): string | undefined {
  const m = e.parentSchema?.errorMessage;
  if (typeof m === 'string') return m;
  if (m && typeof m === 'object' && typeof (m as Record<string, unknown>)[e.keyword] === 'string') return (m as Record<string, string>)[e.keyword];
  return undefined;
}

function defaultMessage(e: AjvError): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'type':
      return `must be ${joinOr(([] as string[]).concat(p.type as string | string[]).map((t) => TYPE_NAMES[t] ?? t))}`;
    case 'enum':
      return `must be one of ${(p.allowedValues as unknown[]).map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify(p.allowedValue)}`;
    case 'pattern':
      return `must match ${String(p.pattern)}`;
    case 'format':
      return `must be a valid ${String(p.format)}`;
    case 'minLength':
      return p.limit === 1 ? 'must not be empty' : `must be at least ${String(p.limit)} characters`;
    case 'maxLength':
      return `must be at most ${String(p.limit)} characters`;
    case 'minItems':
      return p.limit === 1 ? 'must not be empty' : `must have at least ${String(p.limit)} items`;
    case 'maxItems':
      return `must have at most ${String(p.limit)} items`;
    case 'minProperties':
      return p.limit === 1 ? 'must not be empty' : `must have at least ${String(p.limit)} entries`;
    case 'maxProperties':
      return `must have at most ${String(p.limit)} entries`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `must be ${String(p.comparison)} ${String(p.limit)}`;
    case 'not':
    case 'false schema':
      return 'is not allowed here';
    case 'dependentRequired':
      return `requires "${String(p.missingProperty)}" when "${String(p.property)}" is set`;
    default:
      return e.message ?? `is invalid (${e.keyword})`;
  }
}

function lengthFound(keyword: string, value: unknown): string {
  if ((keyword === 'minLength' || keyword === 'maxLength') && typeof value === 'string') return ` (found ${value.length})`;
  if ((keyword === 'minItems' || keyword === 'maxItems') && Array.isArray(value)) return ` (found ${value.length})`;
  if ((keyword === 'minProperties' || keyword === 'maxProperties') && value && typeof value === 'object') return ` (found ${Object.keys(value).length})`;
  return '';
}

function joinOr(items: string[]): string {
  const unique = [...new Set(items)];
  return unique.length <= 1 ? (unique[0] ?? '') : `${unique.slice(0, -1).join(', ')} or ${unique[unique.length - 1]}`;
}

/** The known name a misspelt key most likely meant (edit distance at most 2, or a case/underscore slip). */
export function closest(name: string, known: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = norm(k) === norm(name) ? 0 : editDistance(name, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
