import type { Diagnostic } from '../errors.js';
import type { RepoFile, RepoSnapshot } from '../repo/index.js';
import { toDiagnostics } from '../schema/finding.js';
import { parseSource } from '../schema/parse-source.js';
import { runRules, type Rule } from '../schema/rules.js';
import type { SourceFile } from '../schema/source-file.js';
import type { SchemaKind } from '../schema/ajv.js';
import { validateAgainstSchema } from '../schema/validate-document.js';

/**
 * What every load step shares: the repo's files by path and the diagnostics
 * found so far. A step adds what it finds and returns what validated; a file
 * with an error yields nothing, so later steps never see a half-valid value.
 */
export class LoadContext {
  readonly diagnostics: Diagnostic[] = [];
  readonly files: Map<string, RepoFile>;

  constructor(readonly snapshot: RepoSnapshot) {
    this.files = new Map(snapshot.files.map((f) => [f.path, f]));
  }

  /** The file parsed with positions, or undefined (reported) when it is not YAML/JSON. */
  parse(file: RepoFile): SourceFile | undefined {
    if (file.problem) {
      this.diagnostics.push({ file: file.path, line: file.problem.line, column: file.problem.column, pointer: '', severity: 'error', message: file.problem.message });
      return undefined;
    }
    const source = parseSource(file.path, file.text);
    this.diagnostics.push(...source.diagnostics);
    return source.value === undefined ? undefined : source;
  }

  /** The schema, then (only if the schema passed) the rule table; the value when neither found an error. */
  check<T>(source: SourceFile, kind: SchemaKind, rules?: readonly Rule<T>[]): T | undefined {
    const findings = validateAgainstSchema(kind, source.value);
    if (findings.length === 0 && rules) findings.push(...runRules(rules, source.value as T));
    const found = toDiagnostics(source, findings);
    this.diagnostics.push(...found);
    return found.some((d) => d.severity === 'error') ? undefined : (source.value as T);
  }

  /** The files whose repo path matches. */
  matching(pattern: RegExp): RepoFile[] {
    return this.snapshot.files.filter((f) => pattern.test(f.path));
  }
}
