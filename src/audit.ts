import { appendFileSync, mkdirSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { dirname } from 'node:path';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';

export type AuditOperation =
  | 'issue'
  | 'renew'
  | 'revoke'
  | 'rotate-root'
  | 'config-root'
  | 'recover'
  | 'publish'
  | 'unpublish'
  | 'repair';

/** What a caller records. Never a secret: record() refuses secret-looking field names. */
export interface AuditEvent {
  operation: AuditOperation;
  outcome: 'ok' | 'error';
  mount?: string;
  role?: string;
  lease_id?: string;
  sink?: string;
  /** The error's message when outcome is "error". */
  error?: string;
  /** The AWS identity credops acted as (GetCallerIdentity's ARN), when known. */
  principal?: string;
  /** Anything else worth keeping (access key id, ttl, counts). Names are checked like the top level. */
  details?: Record<string, string | number | boolean | null | undefined>;
}

/** One line of the audit file. */
export interface AuditRecord extends AuditEvent {
  /** ISO 8601. */
  time: string;
  /** Who ran credops: the CI job, or user@host. */
  actor: string;
}

/**
 * Field names that would carry a secret: a match is a bug in the caller (a leak,
 * DESIGN invariant 2), so record() throws instead of writing. Names are compared
 * without case, "_" and "-": secret_key, secretAccessKey, SessionToken, password...
 */
const SECRET_FIELD = /secretkey|secretaccesskey|sessiontoken|securitytoken|password|passphrase|privatekey|statekey|^(secret|token|credentials?)$/;

/**
 * The audit log: one JSON line per issue, renew, revoke and rotation, appended
 * to a file (DESIGN "Flow"). An undefined path turns it off.
 */
export class AuditLog {
  private readonly actor: string;
  private dirReady = false;

  constructor(
    readonly path: string | undefined,
    private readonly clock: Clock = systemClock,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.actor = actorFromEnv(env);
  }

  record(event: AuditEvent): void {
    assertNoSecretFields(event, '');
    if (this.path === undefined) return;
    const record: AuditRecord = { time: new Date(this.clock.now()).toISOString(), actor: this.actor, ...event };
    const line = `${JSON.stringify(record)}\n`;
    try {
      if (!this.dirReady) {
        mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
        this.dirReady = true;
      }
      // One write(2) on an O_APPEND descriptor per line: the kernel places each
      // write at the end atomically, so lines from concurrent credops processes
      // never interleave. The mode applies when the file is created.
      appendFileSync(this.path, line, { mode: 0o600, flag: 'a' });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A write(2) error carries no path of its own: name the audit log.
      throw Object.assign(new Error(`cannot write the audit log ${this.path}: ${(err as Error).message}`, { cause: err }), { code, path: this.path, syscall: 'write' });
    }
  }
}

function assertNoSecretFields(value: unknown, where: string): void {
  if (value === null || typeof value !== 'object') return;
  for (const [key, inner] of Object.entries(value)) {
    if (SECRET_FIELD.test(key.toLowerCase().replace(/[-_]/g, ''))) {
      throw new Error(`bug: refusing to write field "${where}${key}" to the audit log: it looks like a secret`);
    }
    assertNoSecretFields(inner, `${where}${key}.`);
  }
}

/**
 * Who is acting, from the CI's own variables when running in CI (the job is
 * the accountable actor there, not the runner's OS user), else user@host.
 */
export function actorFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GITHUB_ACTIONS === 'true' || env.GITHUB_RUN_ID) {
    const repo = env.GITHUB_REPOSITORY ? ` ${env.GITHUB_REPOSITORY}` : '';
    const workflow = env.GITHUB_WORKFLOW ? ` workflow "${env.GITHUB_WORKFLOW}"` : '';
    const run = env.GITHUB_RUN_ID ? ` run ${env.GITHUB_RUN_ID}` : '';
    return `github:${env.GITHUB_ACTOR ?? 'unknown'}${repo}${workflow}${run}`;
  }
  if (env.GITLAB_CI === 'true' || env.CI_JOB_ID) {
    const user = env.GITLAB_USER_LOGIN ?? 'unknown';
    const project = env.CI_PROJECT_PATH ? ` ${env.CI_PROJECT_PATH}` : '';
    return `gitlab:${user}${project} job ${env.CI_JOB_ID ?? 'unknown'}`;
  }
  if (env.BUILDKITE_BUILD_ID) return `buildkite:${env.BUILDKITE_BUILD_CREATOR ?? 'unknown'} build ${env.BUILDKITE_BUILD_ID}`;
  if (env.CIRCLE_WORKFLOW_ID) return `circleci:${env.CIRCLE_USERNAME ?? 'unknown'} job ${env.CIRCLE_BUILD_NUM ?? env.CIRCLE_WORKFLOW_ID}`;
  if (env.JENKINS_URL && env.BUILD_TAG) return `jenkins:${env.BUILD_TAG}`;
  return `${osUser(env)}@${hostname()}`;
}

function osUser(env: NodeJS.ProcessEnv): string {
  try {
    return userInfo().username;
  } catch {
    // userInfo() throws for a uid with no passwd entry (common in containers).
    return env.USER ?? env.LOGNAME ?? `uid ${process.getuid?.() ?? 'unknown'}`;
  }
}
