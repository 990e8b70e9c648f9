import type { PolicyDocument, PolicyStatement } from '../model/types.js';

/** Code-point order: the same on every machine and locale, so plans and fixtures are stable. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function uniqueSorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort(compareStrings);
}

/** The value with object keys sorted at every level and undefined members dropped. */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(record).sort(compareStrings)) {
      if (record[key] !== undefined) out[key] = canonical(record[key]);
    }
    return out;
  }
  return value;
}

/** Equal values give equal strings, whatever the key order. */
export function canonicalJson(value: unknown): string | undefined {
  return value === undefined ? undefined : JSON.stringify(canonical(value));
}

const LIST_MEMBERS = ['Action', 'NotAction', 'Resource', 'NotResource'] as const;

/**
 * A policy document in the one form IAM gives the same meaning: Statement an
 * array; Action, NotAction, Resource, NotResource, Principal and Condition
 * values as sorted, de-duplicated arrays; keys sorted. A policy file that was
 * only reformatted normalises to the same document.
 */
export function normalisePolicy(doc: PolicyDocument): PolicyDocument {
  const statements = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
  return canonical({ ...doc, Statement: statements.map(normaliseStatement) }) as PolicyDocument;
}

function normaliseStatement(statement: PolicyStatement): PolicyStatement {
  const out: Record<string, unknown> = { ...statement };
  for (const member of LIST_MEMBERS) {
    const value = statement[member];
    if (value !== undefined) out[member] = uniqueSorted(toArray(value));
  }
  for (const member of ['Principal', 'NotPrincipal'] as const) {
    const value = statement[member];
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) out[member] = mapValuesToSets(value as Record<string, unknown>);
  }
  if (statement.Condition) {
    const condition: Record<string, unknown> = {};
    for (const [operator, entries] of Object.entries(statement.Condition)) condition[operator] = mapValuesToSets(entries);
    out.Condition = condition;
  }
  return out as unknown as PolicyStatement;
}

function mapValuesToSets(record: Record<string, unknown>): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const [key, value] of Object.entries(record)) {
    const items = toArray(value);
    const byJson = new Map(items.map((item) => [JSON.stringify(canonical(item)), item]));
    out[key] = [...byJson.keys()].sort(compareStrings).map((k) => byJson.get(k));
  }
  return out;
}

export function toArray<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}
