/**
 * The CLI as users run it: `bin/credops.js` on the esbuild bundle
 * (scripts/bundle.mjs), not the TypeScript sources the other stories run. A
 * bundle can break what the sources do not (a lazily imported package losing
 * its named exports), so every lazily loaded part is used once here: the YAML
 * of credops.yaml, SQLite, the DynamoDB state, the IAM, STS and Secrets
 * Manager clients, and simple-git for a repo given as a git URL.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { childEnv, startLocalAws, type LocalAws } from '../support/aws/index.js';
import { startLocalDynamo, type LocalDynamo } from '../support/dynamodb.js';

const ROOT = resolve(import.meta.dirname, '../..');
let build: string;
let aws: LocalAws;
let dynamo: LocalDynamo;

beforeAll(async () => {
  // Inside the checkout (node_modules/.cache), so that the external better-sqlite3 resolves as from dist/.
  mkdirSync(join(ROOT, 'node_modules/.cache'), { recursive: true });
  build = mkdtempSync(join(ROOT, 'node_modules/.cache/credops-built-'));
  await promisify(execFile)(process.execPath, [join(ROOT, 'scripts/bundle.mjs'), join(build, 'dist')], { cwd: ROOT });
  // What the npm package ships ("files" in package.json): bin, dist and schemas.
  mkdirSync(join(build, 'bin'));
  copyFileSync(join(ROOT, 'bin/credops.js'), join(build, 'bin/credops.js'));
  cpSync(join(ROOT, 'schemas'), join(build, 'schemas'), { recursive: true });
  copyFileSync(join(ROOT, 'package.json'), join(build, 'package.json'));
  aws = await startLocalAws();
  dynamo = await startLocalDynamo();
}, 120_000);

afterAll(async () => {
  await aws?.close();
  await dynamo?.close();
  if (build) rmSync(build, { recursive: true, force: true });
});

/** The built credops, as a child process (asynchronous: the endpoints it talks to run in this process). */
function credops(args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(build, 'bin/credops.js'), ...args], { cwd, env: { ...childEnv(aws), NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

it('the bundled CLI validates, plans, reconciles to both sink types, issues and revokes, on SQLite and DynamoDB, from a directory and a git URL', async () => {
  const dir = mkdtempSync(join(build, 'work-'));
  const repo = join(dir, 'repo');
  mkdirSync(join(repo, 'roles'), { recursive: true });
  mkdirSync(join(repo, 'sinks'));
  const dynamoState = await dynamo.newState('built');
  // The state comes from credops.yaml: the lazily loaded YAML parser of cli/location.ts.
  writeFileSync(join(repo, 'credops.yaml'), `version: 1\nstate: ${JSON.stringify(dynamoState)}\nmounts:\n  aws:\n    region: us-east-1\n`);
  writeFileSync(join(repo, 'roles/deploy.json'), JSON.stringify({ credential_type: 'iam_user', policy_document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] } }));
  writeFileSync(join(repo, 'roles/reader.json'), JSON.stringify({ credential_type: 'federation_token', policy_arns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] }));
  writeFileSync(join(repo, 'sinks/ci.yaml'), 'role: deploy\nttl: 1h\nsecretsmanager:\n  name: ci/deploy\n  recovery_window_days: 0\n');
  writeFileSync(join(repo, 'sinks/laptop.yaml'), `role: deploy\nttl: 1h\nfile:\n  path: ${join(dir, 'out/credentials.json')}\n  format: json\n`);
  const env = { CREDOPS_AUDIT_LOG: join(dir, 'audit.log'), HOME: dir };

  expect((await credops(['--version'], env, dir)).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  const validate = await credops(['validate', '--repo', repo], env, dir);
  expect(validate.stderr).toBe('');
  expect(validate).toMatchObject({ code: 0, stdout: 'Success! 2 roles, 2 sinks, 1 mount are valid.\n' });

  const reconcile = await credops(['reconcile', '--repo', repo], env, dir);
  expect(reconcile.stdout).toContain('sinks: 2 issued');
  expect(reconcile.code).toBe(0);
  expect(aws.secrets.get('ci/deploy')?.value).toContain('AccessKeyId');
  const sts = await credops(['sts', 'reader', '--format', 'json'], { ...env, CREDOPS_STATE: dynamoState }, dir);
  expect(JSON.parse(sts.stdout).data.security_token).toBeTruthy();
  expect((await credops(['plan', '--repo', repo, '--detailed-exitcode', '--refresh'], env, repo)).code).toBe(0);
  const show = JSON.parse((await credops(['state', 'show', '--format', 'json'], env, repo)).stdout) as { url: string; leases: number };
  expect(show).toMatchObject({ url: dynamoState, leases: 3 });
  expect((await credops(['lease', 'revoke', '--prefix', 'aws/creds/deploy'], env, repo)).code).toBe(0);
  expect(aws.iam.users().filter((u) => u.userName !== aws.root.userName)).toEqual([]);

  // SQLite (the native module, outside the bundle), and the repo as a git URL (simple-git).
  execFileSync('git', ['init', '-q', '-b', 'main', repo]);
  execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'add', '.']);
  execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'roles']);
  const sqlite = { ...env, CREDOPS_STATE: `sqlite:${join(dir, 'state.db')}` };
  const fromGit = await credops(['plan', '--repo', `file://${repo}`, '--format', 'json'], sqlite, dir);
  expect(fromGit.code).toBe(0);
  expect(JSON.parse(fromGit.stdout)).toMatchObject({ commit: execFileSync('git', ['-C', repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim() });
  // Both targets were published by the DynamoDB state: this state takes them over on purpose.
  const applied = await credops(['reconcile', '--repo', `file://${repo}`, '--adopt', 'ci', '--adopt', 'laptop'], sqlite, dir);
  expect(applied.stdout).toContain('sinks: 2 issued');
  expect(applied.code).toBe(0);
  const leases = JSON.parse((await credops(['lease', 'list', '--format', 'json'], sqlite, dir)).stdout) as unknown[];
  expect(leases).toHaveLength(2);
}, 120_000);
