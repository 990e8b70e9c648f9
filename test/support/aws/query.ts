/**
 * Reading a Query-protocol request body (form-urlencoded `Action=..&Version=..&Name.member.1=..`),
 * the way the SDK's AwsQueryProtocol serializer writes lists and structures.
 */
import { validation } from './errors.js';
import type { Caller, World } from './state.js';
import type { XmlValue } from './xml.js';

export interface Tag {
  Key: string;
  Value: string;
}

export class QueryParams {
  readonly action: string;
  readonly version: string;

  constructor(private readonly params: Map<string, string>) {
    this.action = params.get('Action') ?? '';
    this.version = params.get('Version') ?? '';
  }

  static parse(body: string, rawQuery: string): QueryParams {
    const map = new Map<string, string>();
    for (const source of [rawQuery, body]) {
      for (const [k, v] of new URLSearchParams(source)) map.set(k, v);
    }
    return new QueryParams(map);
  }

  has(name: string): boolean {
    return this.params.has(name);
  }

  opt(name: string): string | undefined {
    return this.params.get(name);
  }

  /** A required member: AWS answers a missing one with a ValidationError in this wording. */
  req(name: string): string {
    const v = this.params.get(name);
    if (v === undefined || v === '') {
      throw validation(`1 validation error detected: Value null at '${lowerFirst(name)}' failed to satisfy constraint: Member must not be null`);
    }
    return v;
  }

  int(name: string): number | undefined {
    const v = this.params.get(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n)) throw validation(`Value '${v}' at '${lowerFirst(name)}' is not a valid integer`);
    return n;
  }

  bool(name: string): boolean | undefined {
    const v = this.params.get(name);
    return v === undefined ? undefined : v === 'true';
  }

  /** `Name.member.N` -> values in N order. */
  list(name: string): string[] {
    return this.indexed(`${name}.member.`).map(([, rest]) => rest.get('') ?? '');
  }

  /** `Name.member.N.Field` -> one record per N. */
  structs(name: string): Record<string, string>[] {
    return this.indexed(`${name}.member.`).map(([, rest]) => Object.fromEntries([...rest].filter(([k]) => k !== '')));
  }

  tags(name = 'Tags'): Tag[] {
    return this.structs(name).map((t) => ({ Key: t['Key'] ?? '', Value: t['Value'] ?? '' }));
  }

  private indexed(prefix: string): [number, Map<string, string>][] {
    const byIndex = new Map<number, Map<string, string>>();
    for (const [k, v] of this.params) {
      if (!k.startsWith(prefix)) continue;
      const rest = k.slice(prefix.length);
      const dot = rest.indexOf('.');
      const index = Number(dot === -1 ? rest : rest.slice(0, dot));
      if (!Number.isInteger(index)) continue;
      const field = dot === -1 ? '' : rest.slice(dot + 1);
      let entry = byIndex.get(index);
      if (!entry) byIndex.set(index, (entry = new Map()));
      entry.set(field, v);
    }
    return [...byIndex].sort((a, b) => a[0] - b[0]);
  }
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

/** What a Query action handler sees: the world and who signed the request. */
export interface CallContext {
  world: World;
  caller: Caller;
  region: string;
}

/** One API action: parameters in, the members of `<ActionResult>` out (undefined: no Result element). */
export type QueryHandler = (p: QueryParams, ctx: CallContext) => Record<string, XmlValue> | undefined;

const MAX_ITEMS_DEFAULT = 100;
const MAX_ITEMS_LIMIT = 1000;

/**
 * IAM's Marker/IsTruncated/MaxItems pagination. The marker names the last key returned, so a
 * caller that deletes what it has listed while paging (as a revoke sweep does) loses nothing.
 */
export function paginate<T>(p: QueryParams, items: T[], keyOf: (item: T) => string): { page: T[]; more: Record<string, XmlValue> } {
  const maxItems = p.int('MaxItems') ?? MAX_ITEMS_DEFAULT;
  if (maxItems < 1 || maxItems > MAX_ITEMS_LIMIT) {
    throw validation(
      `1 validation error detected: Value '${maxItems}' at 'maxItems' failed to satisfy constraint: Member must have value ${maxItems < 1 ? 'greater than or equal to 1' : `less than or equal to ${MAX_ITEMS_LIMIT}`}`,
    );
  }
  const sorted = [...items].sort((a, b) => compare(keyOf(a), keyOf(b)));
  const marker = p.opt('Marker');
  let start = 0;
  if (marker !== undefined) {
    let after: string;
    try {
      after = Buffer.from(marker, 'base64url').toString('utf8');
    } catch {
      throw validation('Invalid Marker.');
    }
    if (!after.startsWith('m:')) throw validation('Invalid Marker.');
    after = after.slice(2);
    start = sorted.findIndex((item) => compare(keyOf(item), after) > 0);
    if (start === -1) start = sorted.length;
  }
  const page = sorted.slice(start, start + maxItems);
  const truncated = start + maxItems < sorted.length;
  const last = page[page.length - 1];
  return {
    page,
    more:
      truncated && last !== undefined
        ? { IsTruncated: true, Marker: Buffer.from(`m:${keyOf(last)}`).toString('base64url') }
        : { IsTruncated: false },
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
