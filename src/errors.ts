/**
 * Two kinds of error, kept apart (STYLE.md §4):
 * - UserError: the caller's mistake (bad input, unknown role, AWS refusing a
 *   request for a reason the user can fix). Printed as one clear message, exit 1.
 * - anything else is a bug in credops: short message, stack only with --debug.
 */

/** Where in the secrets repo a problem is. Line and column are 1-based. */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
  /** JSON pointer of the offending value inside the file ("" for the whole document). */
  pointer: string;
}

export interface Diagnostic extends SourcePosition {
  severity: 'error' | 'warning';
  message: string;
}

/** `roles/ec2.json:4:22: error: /credential_type must be ...` (compiler style). */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.pointer === '' || d.message.startsWith(d.pointer) ? '' : `${d.pointer} `;
  return `${d.file}:${d.line}:${d.column}: ${d.severity}: ${where}${d.message}`;
}

export class UserError extends Error {
  override readonly name: string = 'UserError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The repo did not validate: every diagnostic of every file, errors and warnings. */
export class ValidationError extends UserError {
  override readonly name = 'ValidationError';
  constructor(readonly diagnostics: Diagnostic[]) {
    const errors = diagnostics.filter((d) => d.severity === 'error');
    super(`${errors.length} error${errors.length === 1 ? '' : 's'} in the secrets repo; nothing was applied`);
  }
}

/** AWS refused a call for a reason the caller can fix (policy, role ARN, permissions). */
export class AwsUserError extends UserError {
  override readonly name = 'AwsUserError';
  constructor(
    readonly code: string,
    readonly awsMessage: string,
    readonly context: { mount?: string; role?: string; operation?: string },
    options?: { cause?: unknown },
  ) {
    const where = [context.mount && context.role ? `${context.mount}/roles/${context.role}` : context.role, context.operation]
      .filter(Boolean)
      .join(' ');
    super(`${where ? `${where}: ` : ''}AWS ${code}: ${awsMessage}`, options);
  }
}

/** The state lock is held by another run and did not come free in time. */
export class LockError extends UserError {
  override readonly name = 'LockError';
}

/**
 * This run's lock was taken over (it was not renewed in time: the process was
 * paused, or could not reach the state): it must not write what only the lock
 * holder may write.
 */
export class LockLostError extends UserError {
  override readonly name = 'LockLostError';
}

/** The message of anything thrown, for a report or a log line. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
