import type { Diagnostic } from '../errors.js';
import type { SourceFile } from './source-file.js';

/** A problem at a JSON pointer of one file, before it is given a line and column. */
export interface Finding {
  pointer: string;
  message: string;
  severity?: 'error' | 'warning';
  /** Report at the key rather than the value (unknown or misspelt keys). */
  at?: 'value' | 'key';
}

export function toDiagnostics(file: SourceFile, findings: Finding[]): Diagnostic[] {
  return findings.map((f) => ({
    file: file.path,
    ...file.position(f.pointer, f.at),
    pointer: f.pointer,
    severity: f.severity ?? 'error',
    message: f.message,
  }));
}

/** A short, safe rendering of a value for "(found ...)". */
export function preview(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return value.length === 0 ? '[]' : 'an array';
  if (value !== null && typeof value === 'object') return Object.keys(value).length === 0 ? '{}' : 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}..."` : text;
}
