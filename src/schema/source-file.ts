import type { Diagnostic } from '../errors.js';

/** 1-based line and column. */
export interface LineColumn {
  line: number;
  column: number;
}

/**
 * A parsed file of the secrets repo that still knows where each value came
 * from, so that a problem found later (schema, rule, cross-file check) can be
 * reported at `file:line:col`.
 */
export interface SourceFile {
  /** Path relative to the repo root, with "/" separators. */
  path: string;
  /** The parsed value; undefined when the file did not parse. */
  value: unknown;
  /** Syntax errors (and parser warnings). Empty when the file parsed cleanly. */
  diagnostics: Diagnostic[];
  /**
   * Where the value at `pointer` starts (or its key, with at: "key"). Falls
   * back to the nearest ancestor that exists, then to 1:1.
   */
  position(pointer: string, at?: 'value' | 'key'): LineColumn;
  /**
   * For a string value written as a JSON string literal: maps an offset in the
   * decoded string to its file position (for JSON held in a string, such as a
   * policy_document). Undefined where the parser cannot map it.
   */
  textPosition?(pointer: string): ((offset: number) => LineColumn) | undefined;
}

/** Offsets to line/column, computed once per file and only when a position is asked for. */
export class LineIndex {
  private starts: number[] | undefined;
  constructor(private readonly text: string) {}

  at(offset: number): LineColumn {
    const starts = (this.starts ??= lineStarts(this.text));
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo]! + 1 };
  }
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) starts.push(i + 1);
    else if (c === 13 && text.charCodeAt(i + 1) !== 10) starts.push(i + 1);
  }
  return starts;
}

/** RFC 6901 escaping of one reference token. */
export function pointerToken(key: string | number): string {
  const s = String(key);
  return s.includes('~') || s.includes('/') ? s.replace(/~/g, '~0').replace(/\//g, '~1') : s;
}

export function pointerTokens(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((t) => (t.includes('~') ? t.replace(/~1/g, '/').replace(/~0/g, '~') : t));
}

export function parentPointer(pointer: string): string {
  const i = pointer.lastIndexOf('/');
  return i <= 0 ? '' : pointer.slice(0, i);
}

/** The value at a JSON pointer inside a parsed value, or undefined. */
export function valueAt(root: unknown, pointer: string): unknown {
  let node = root;
  for (const token of pointerTokens(pointer)) {
    if (Array.isArray(node)) node = node[Number(token)];
    else if (node !== null && typeof node === 'object' && Object.hasOwn(node, token)) node = (node as Record<string, unknown>)[token];
    else return undefined;
  }
  return node;
}
