/**
 * Story: an operator revokes a sink's lease by hand (`credops lease revoke`).
 * `status` says the sink needs a credential; the plan must say so too, and
 * exit 2 with --detailed-exitcode, because reconcile will issue one: the plan
 * shows all the AWS work reconcile does, not only the file changes.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/runtime.js';
import { localAwsEnv, startLocalAws, type LocalAws } from '../support/aws/index.js';

let aws: LocalAws;
let dir: string;

beforeEach(async () => {
  aws = await startLocalAws();
  dir = mkdtempSync(join(tmpdir(), 'credops-plan-work-'));
  mkdirSync(join(dir, 'roles'));
  mkdirSync(join(dir, 'sinks'));
  writeFileSync(join(dir, 'roles', 'deploy.json'), JSON.stringify({ credential_type: 'iam_user', policy_arns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] }));
  writeFileSync(join(dir, 'sinks', 'laptop.yaml'), 'role: deploy\nttl: 1h\nverify: false\nfile:\n  path: out/credentials\n  profile: deploy\n');
});

afterEach(async () => {
  await aws.close();
  rmSync(dir, { recursive: true, force: true });
});

async function credops(args: string[]) {
  let stdout = '';
  let stderr = '';
  const io: Io = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), readStdin: async () => '', isTTY: false, env: { ...localAwsEnv(aws), NO_COLOR: '1' }, cwd: dir };
  const code = await main(['node', 'credops', ...args], io);
  return { code, stdout, stderr };
}

describe('the plan shows sink credentials reconcile would issue', () => {
  it('after a sink lease is revoked by hand: plan says issue, reconcile issues, then no work is left', async () => {
    const first = await credops(['reconcile']);
    expect(first.code, first.stderr).toBe(0);
    const clean = await credops(['plan', '--detailed-exitcode']);
    expect(clean.code).toBe(0);
    expect(clean.stdout).not.toContain('Sink credentials');

    const leaseId = (JSON.parse((await credops(['lease', 'list', '--format', 'json'])).stdout) as { lease_id: string }[])[0]!.lease_id;
    expect((await credops(['lease', 'revoke', leaseId!])).code).toBe(0);

    const status = await credops(['status', '--format', 'json']);
    expect(JSON.parse(status.stdout).sinks[0]).toMatchObject({ name: 'laptop', next_action: 'issue' });
    const plan = await credops(['plan', '--detailed-exitcode']);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain('+ sink laptop: issue (its lease is gone)');
    expect(plan.stdout).toContain('No changes. The state matches the repo at dirty. Sink credentials: 1 to issue.');
    const json = JSON.parse((await credops(['plan', '--format', 'json'])).stdout);
    expect(json.sink_work).toEqual([{ sink: 'laptop', work: 'issue', reason: 'its lease is gone' }]);

    const reconciled = await credops(['reconcile']);
    expect(reconciled.code).toBe(0);
    expect(reconciled.stderr).toContain('sink laptop: issue');
    const after = await credops(['plan', '--detailed-exitcode']);
    expect(after.code).toBe(0);
  });
});
