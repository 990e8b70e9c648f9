import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { actorFromEnv, AuditLog, type AuditEvent } from '../src/audit.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const clock = { now: () => Date.parse('2026-11-23T15:40:00.000Z'), sleep: async () => {} };
let dir: string;
let path: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'credops-audit-'));
  path = join(dir, 'logs', 'audit.log');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const lines = (): Record<string, unknown>[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('the audit log', () => {
  it('appends one JSON line per event, to an owner-only file', () => {
    const env = { GITHUB_ACTIONS: 'true', GITHUB_ACTOR: 'octocat', GITHUB_REPOSITORY: 'acme/secrets', GITHUB_WORKFLOW: 'reconcile', GITHUB_RUN_ID: '42' };
    const log = new AuditLog(path, clock, env);
    log.record({ operation: 'issue', outcome: 'ok', mount: 'aws', role: 'deploy', lease_id: 'aws/creds/deploy/abc', principal: 'arn:aws:iam::123456789012:user/credops' });
    log.record({ operation: 'revoke', outcome: 'error', mount: 'aws', role: 'deploy', lease_id: 'aws/creds/deploy/abc', error: 'AWS Throttling: Rate exceeded' });
    new AuditLog(path, clock, {}).record({ operation: 'rotate-root', outcome: 'ok', mount: 'aws', details: { access_key_id: 'AKIANEW' } });

    expect(statSync(path).mode & 0o777).toBe(0o600);
    const [issue, revoke, rotate] = lines();
    expect(issue).toEqual({
      time: '2026-11-23T15:40:00.000Z',
      actor: 'github:octocat acme/secrets workflow "reconcile" run 42',
      operation: 'issue',
      outcome: 'ok',
      mount: 'aws',
      role: 'deploy',
      lease_id: 'aws/creds/deploy/abc',
      principal: 'arn:aws:iam::123456789012:user/credops',
    });
    expect(revoke).toMatchObject({ operation: 'revoke', outcome: 'error', error: 'AWS Throttling: Rate exceeded' });
    expect(rotate).toMatchObject({ operation: 'rotate-root', details: { access_key_id: 'AKIANEW' } });
    expect(rotate!.actor).toMatch(new RegExp(`@${hostname()}$`));
  });

  it('refuses, as a bug, any field that looks like a secret, at any depth, and writes nothing', () => {
    const log = new AuditLog(path, clock, {});
    const leaks = ['secret_key', 'secretAccessKey', 'SecretAccessKey', 'session_token', 'sessionToken', 'security_token', 'password', 'aws-secret-access-key'];
    for (const field of leaks) {
      const top = { operation: 'issue', outcome: 'ok', [field]: 'x' } as unknown as AuditEvent;
      expect(() => log.record(top)).toThrow(new RegExp(`bug: refusing to write field "${field}"`));
      const nested: AuditEvent = { operation: 'issue', outcome: 'ok', details: { [field]: 'x' } };
      expect(() => log.record(nested)).toThrow(new RegExp(`"details\\.${field}"`));
    }
    expect(() => readFileSync(path)).toThrow(/ENOENT/);
  });

  it('the guard runs even when the log is off, so a leak is caught in every test', () => {
    const off = new AuditLog(undefined, clock, {});
    expect(() => off.record({ operation: 'issue', outcome: 'ok' })).not.toThrow();
    expect(() => off.record({ operation: 'issue', outcome: 'ok', details: { sessionToken: 'x' } })).toThrow(/bug/);
  });

  it('lines written by concurrent processes stay whole', async () => {
    // Lines longer than a pipe buffer (4 KiB), from three processes at once.
    const writer = `
      import { AuditLog } from ${JSON.stringify(join(root, 'src/audit.ts'))};
      const log = new AuditLog(process.argv[1], undefined, {});
      for (let i = 0; i < 150; i++) log.record({ operation: 'renew', outcome: 'ok', lease_id: 'aws/creds/r/' + process.pid + '/' + i, error: 'x'.repeat(6000) });
    `;
    const run = () =>
      new Promise<number | null>((done) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', writer, path], { cwd: root, stdio: 'inherit' });
        child.on('exit', done);
      });
    new AuditLog(path, clock, {}).record({ operation: 'renew', outcome: 'ok' });
    expect(await Promise.all([run(), run(), run()])).toEqual([0, 0, 0]);
    const ids = lines().map((l) => l.lease_id).filter(Boolean);
    expect(ids).toHaveLength(450);
    expect(new Set(ids).size).toBe(450);
  });
});

describe('the actor', () => {
  it('is the CI job when running in CI, else user@host', () => {
    expect(actorFromEnv({ GITLAB_CI: 'true', CI_JOB_ID: '77', GITLAB_USER_LOGIN: 'alice', CI_PROJECT_PATH: 'acme/secrets' })).toBe(
      'gitlab:alice acme/secrets job 77',
    );
    expect(actorFromEnv({ BUILDKITE_BUILD_ID: 'b1', BUILDKITE_BUILD_CREATOR: 'bob' })).toBe('buildkite:bob build b1');
    expect(actorFromEnv({ JENKINS_URL: 'https://ci', BUILD_TAG: 'jenkins-deploy-12' })).toBe('jenkins:jenkins-deploy-12');
    expect(actorFromEnv({})).toMatch(new RegExp(`^.+@${hostname()}$`));
  });
});
