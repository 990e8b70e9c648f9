/**
 * Story: a team runs `credops watch` next to a service that reads its AWS key
 * from a file sink. The key lives two minutes, on watch's clock: the test
 * moves that clock forward (CREDOPS_TEST_CLOCK_FILE) instead of waiting, so
 * nothing here depends on how fast the machine is. credops rotates it at its
 * renew_before moment (not at the next --interval), the file always holds a
 * key that AWS accepts, the replaced key is revoked when its grace ends, a bad
 * commit in between is logged without stopping anything, and SIGTERM stops the
 * process cleanly, releasing the state lock.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { TEST_CLOCK_FILE_ENV } from '../../src/cli/test-clock.js';
import { childEnv } from '../support/aws/index.js';
import { eachTestWorld, callerIdentity, credopsUsers, rejectionCode, runCli, type LocalAws, type TempState } from './helpers.js';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(REPO_ROOT, 'test/github/cli.ts');
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const S = 1000;
const TTL_S = 120;
const RENEW_BEFORE_S = 70;
const GRACE_S = 30;

let aws: LocalAws;
let t: TempState;
let dir: string;
let child: ChildProcessByStdio<null, Readable, Readable> | undefined;

eachTestWorld((w) => ({ aws, t } = w));

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'credops-watch-'));
});

afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = undefined;
  rmSync(dir, { recursive: true, force: true });
});

interface LogLine {
  time: string;
  level: string;
  event: string;
  [k: string]: unknown;
}

interface SinkFile {
  AccessKeyId: string;
  SecretAccessKey: string;
  Expiration: string;
  lease_id: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function writeRepo(repo: string, sinkPath: string): void {
  mkdirSync(join(repo, 'roles'), { recursive: true });
  mkdirSync(join(repo, 'sinks'), { recursive: true });
  // lease_max = the TTL: the key cannot be renewed, so it is replaced.
  writeFileSync(join(repo, 'credops.yaml'), 'version: 1\nmounts:\n  aws:\n    lease: 2m\n    lease_max: 2m\n');
  writeFileSync(
    join(repo, 'roles/deploy.json'),
    JSON.stringify({ credential_type: 'iam_user', policy_document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] } }),
  );
  writeFileSync(
    join(repo, 'sinks/app.yaml'),
    `role: deploy\nttl: ${TTL_S}s\nrenew_before: ${RENEW_BEFORE_S}s\ngrace: ${GRACE_S}s\nfile:\n  path: ${sinkPath}\n  format: json\n`,
  );
}

it(
  'rotates a 2-minute key without a gap, wakes for deadlines, survives a bad commit, and stops on SIGTERM',
  async () => {
    const repo = join(dir, 'repo');
    const sinkPath = join(dir, 'app', 'credentials.json');
    writeRepo(repo, sinkPath);
    // watch's clock is the wall clock plus what the test writes here: time moves when the test says.
    const clockFile = join(dir, 'clock');
    writeFileSync(clockFile, '0');
    const env = {
      ...childEnv(aws),
      [TEST_CLOCK_FILE_ENV]: clockFile,
      CREDOPS_STATE: t.url,
      CREDOPS_AUDIT_LOG: t.auditPath,
      NO_COLOR: '1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    // --interval 10m: every wake in this test is a deadline, never the interval.
    const args = ['watch', '--repo', repo, '--interval', '10m', '--health-port', '0', '--health-host', '127.0.0.1'];
    const proc = spawn(process.execPath, ['--import', TSX, CLI, ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.on('exit', (code, signal) => r({ code, signal })));
    const logs = (): LogLine[] =>
      stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as LogLine);
    const find = (event: string) => logs().find((l) => l.event === event);

    // Until the first key is published and the health server is up.
    const started = Date.now();
    while (!(existsSync(sinkPath) && find('health.listening')) && Date.now() - started < 30 * S) await sleep(200);
    const port = find('health.listening')?.port as number;
    expect(port, stderr).toBeGreaterThan(0);
    const health = (path: string) => fetch(`http://127.0.0.1:${port}${path}`);

    // A consumer polls all along: at every poll the key in the file must work.
    const keys: SinkFile[] = [];
    const refusedAtPoll: string[] = [];
    let lockFreeSeen = false;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const key = JSON.parse(readFileSync(sinkPath, 'utf8')) as SinkFile;
        if (!keys.some((k) => k.AccessKeyId === key.AccessKeyId)) keys.push(key);
        const code = await rejectionCode(callerIdentity(aws, { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey }));
        if (code !== '') refusedAtPoll.push(`${new Date().toISOString()} ${key.AccessKeyId}: ${code}`);
        if ((await t.state.lockHolder()) === undefined) lockFreeSeen = true;
        await sleep(100);
      }
    })();
    const waitFor = async (event: string) => {
      for (const until = Date.now() + 60 * S; !find(event) && Date.now() < until; ) await sleep(50);
      expect(find(event), `${event} in:\n${stdout}\n${stderr}`).toBeDefined();
    };
    const works = async (key: SinkFile) => (await rejectionCode(callerIdentity(aws, { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey }))) === '';
    const first = JSON.parse(readFileSync(sinkPath, 'utf8')) as SinkFile;

    // Time moves to just past renew_before (TTL - 70 s = 50 s after the issue): watch, asleep until
    // that deadline with a 10-minute interval, wakes and rotates.
    writeFileSync(clockFile, String((TTL_S - RENEW_BEFORE_S + 1) * S));
    await waitFor('sink.rotated');
    const second = JSON.parse(readFileSync(sinkPath, 'utf8')) as SinkFile;
    expect(second.AccessKeyId).not.toBe(first.AccessKeyId);
    // During the grace: the new key is active, the old one still works, pending its revocation.
    expect(await works(second)).toBe(true);
    expect(await works(first)).toBe(true);
    const graceMetrics = await (await health('/metrics')).text();
    // A bad commit lands before the grace ends; the old key must still be revoked on time.
    writeFileSync(join(repo, 'roles/broken.json'), '{ "credential_type": "iam_usr" }');
    const brokeRepoAt = Date.now();

    // Time moves past the end of the grace: the old key is revoked.
    writeFileSync(clockFile, String((TTL_S - RENEW_BEFORE_S + 1 + GRACE_S + 2) * S));
    await waitFor('lease.revoked');
    const firstKeyRefused = (await rejectionCode(callerIdentity(aws, { accessKeyId: first.AccessKeyId, secretAccessKey: first.SecretAccessKey }))) === 'InvalidClientTokenId';
    polling = false;
    await poller;

    expect(refusedAtPoll).toEqual([]);
    expect(keys.map((k) => k.AccessKeyId), stdout).toEqual([first.AccessKeyId, second.AccessKeyId]);
    expect(firstKeyRefused, stdout).toBe(true);
    expect(lockFreeSeen).toBe(true);

    // The rotation came at renew_before (50 s after the issue, on watch's clock), not at the 10-minute interval.
    const issued = find('sink.issued')!;
    const rotated = find('sink.rotated')!;
    expect(rotated).toMatchObject({ level: 'info', sink: 'app', retired: [first.lease_id], lease_id: second.lease_id });
    const rotationAfter = (Date.parse(rotated.time) - Date.parse(issued.time)) / S;
    expect(rotationAfter).toBeGreaterThanOrEqual(TTL_S - RENEW_BEFORE_S);
    expect(rotationAfter).toBeLessThan(10 * 60);
    expect(graceMetrics).toContain('credops_leases{state="active"} 1\n');
    expect(graceMetrics).toContain('credops_leases{state="revoke_pending"} 1\n');
    const nextExpiry = Number(/^credops_seconds_to_next_expiry (\S+)$/m.exec(graceMetrics)?.[1]);
    expect(nextExpiry).toBeGreaterThan(TTL_S - 15);
    expect(nextExpiry).toBeLessThanOrEqual(TTL_S);

    // The bad commit was logged with its file; the old key was revoked anyway, from the applied state, and nothing was applied.
    const lines = logs();
    const failedAt = lines.findIndex((l) => l.event === 'repo.failed');
    expect(lines[failedAt]).toMatchObject({ level: 'error', diagnostics: [expect.stringMatching(/^roles\/broken\.json:1:\d+: error: /)] });
    const after = lines.slice(failedAt);
    expect(after.find((l) => l.event === 'lease.revoked')).toMatchObject({ lease_id: first.lease_id, reason: 'expired' });
    expect(after.some((l) => l.event === 'repo.applied')).toBe(false);
    expect(credopsUsers(aws)).toHaveLength(1);

    // Still running, and saying so: degraded (within the grace), one error counted.
    const healthz = await health('/healthz');
    expect(healthz.status).toBe(200);
    expect(await healthz.json()).toMatchObject({ status: 'degraded', last_error: expect.stringContaining('error in the secrets repo') });
    const metrics = await (await health('/metrics')).text();
    expect(Number(/^credops_reconcile_errors_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/^credops_reconcile_duration_seconds_count (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(3);
    expect(Number(/^credops_last_success_timestamp_seconds (\S+)$/m.exec(metrics)?.[1]) * S).toBeGreaterThan(started);

    // SIGTERM: exit 0 within a few seconds, the lock released, the log closed with watch.stopped.
    const stopAt = Date.now();
    proc.kill('SIGTERM');
    const exit = await exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - stopAt).toBeLessThan(5 * S);
    expect(logs().slice(-2).map((l) => l.event)).toEqual(['watch.stopping', 'watch.stopped']);
    expect(await t.state.lockHolder()).toBeUndefined();
    rmSync(join(repo, 'roles/broken.json'));
    const next = await runCli(aws, t, ['reconcile', '--repo', repo, '--lock-timeout', '0s']);
    expect([next.code, next.stderr]).toEqual([0, expect.not.stringContaining('locked')]);

    // One JSON object per line, each with time, level and event; never a secret.
    for (const l of logs()) expect(Object.keys(l).slice(0, 3)).toEqual(['time', 'level', 'event']);
    for (const k of keys) {
      expect(stdout).not.toContain(k.SecretAccessKey);
      expect(stderr).not.toContain(k.SecretAccessKey);
    }
    expect(brokeRepoAt).toBeDefined();
  },
  150 * S,
);
