import { formatDiagnostic, type Diagnostic } from '../../src/errors.js';
import { parseHclFiles, validateSnapshot } from '../../src/load/index.js';
import type { RepoSnapshot } from '../../src/repo/index.js';

/** A snapshot from an object of files: objects are written as pretty JSON (or YAML-free JSON for .yaml, which YAML reads too). */
export function snapshotOf(files: Record<string, unknown>): RepoSnapshot {
  return {
    source: 'test',
    commit: 'dirty',
    root: '/nonexistent',
    files: Object.entries(files)
      .map(([path, content]) => ({ path, text: typeof content === 'string' ? content : JSON.stringify(content, null, 2) }))
      .sort((a, b) => (a.path < b.path ? -1 : 1)),
  };
}

export function validate(files: Record<string, unknown>): { model?: ReturnType<typeof validateSnapshot>['model']; errors: string[]; warnings: string[]; diagnostics: Diagnostic[] } {
  const { model, diagnostics } = validateSnapshot(snapshotOf(files));
  return {
    model,
    diagnostics,
    errors: diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic),
    warnings: diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic),
  };
}

export const ACCOUNT = '123456789012';
export const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/deployer`;
export const POLICY_ARN = 'arn:aws:iam::aws:policy/ReadOnlyAccess';
export const POLICY = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bucket/*' }] };

/** validate(), with the .hcl files parsed first (HashiCorp's parser is asynchronous). */
export async function validateWithHcl(files: Record<string, unknown>): Promise<ReturnType<typeof validate>> {
  const snapshot = snapshotOf(files);
  const { model, diagnostics } = validateSnapshot(snapshot, undefined, await parseHclFiles(snapshot.files));
  return {
    model,
    diagnostics,
    errors: diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic),
    warnings: diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic),
  };
}
