/**
 * Story: a second copy of the state (a job run from another directory, a
 * restored backup) reconciles the same repo. It must not take over the
 * Secrets Manager secret the first state publishes to, unless the sink says
 * `adopt: true`; and when it does, the first state sees the take-over as
 * drift in `plan --refresh`, and its reconcile takes the secret back.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/runtime.js';
import { openState } from '../../src/state/index.js';
import { localAwsEnv, startLocalAws, type LocalAws } from '../support/aws/index.js';

let aws: LocalAws;
let dir: string;
let repo: string;

beforeEach(async () => {
  aws = await startLocalAws();
  dir = mkdtempSync(join(tmpdir(), 'credops-ownership-'));
  repo = join(dir, 'repo');
  mkdirSync(join(repo, 'roles'), { recursive: true });
  mkdirSync(join(repo, 'sinks'));
  writeFileSync(join(repo, 'roles', 'deploy.json'), JSON.stringify({ credential_type: 'iam_user', policy_document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] } }));
  writeSink(false);
});

afterEach(async () => {
  await aws.close();
  rmSync(dir, { recursive: true, force: true });
});

function writeSink(adopt: boolean) {
  writeFileSync(join(repo, 'sinks', 'ci.yaml'), `role: deploy\nttl: 1h\nverify: false\n${adopt ? 'adopt: true\n' : ''}secretsmanager:\n  name: ci/deploy\n  recovery_window_days: 0\n`);
}

async function credops(state: string, args: string[]) {
  let stdout = '';
  let stderr = '';
  const env = { ...localAwsEnv(aws), CREDOPS_STATE: `sqlite:${join(dir, state)}`, CREDOPS_AUDIT_LOG: join(dir, `${state}.audit.log`), NO_COLOR: '1' };
  const io: Io = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), readStdin: async () => '', isTTY: false, env, cwd: dir };
  const code = await main(['node', 'credops', ...args, '--repo', repo], io);
  return { code, stdout, stderr };
}

async function stateId(state: string): Promise<string> {
  const s = await openState(`sqlite:${join(dir, state)}`);
  try {
    return s.id;
  } finally {
    await s.close();
  }
}

const tags = () => Object.fromEntries((aws.secrets.get('ci/deploy')?.tags ?? []).map((t) => [t.Key, t.Value]));

describe('a sink target owned by another state', () => {
  it('is refused without adopt, taken over with it, and the first state sees the drift and takes it back', async () => {
    const first = await credops('a.db', ['reconcile']);
    expect(first.code, first.stderr).toBe(0);
    const a = await stateId('a.db');
    expect(tags()['credops:state']).toBe(a);
    const published = tags()['credops:lease'];

    // A second state refuses to overwrite it, naming the owner; the key it issued for it is revoked at once.
    const second = await credops('b.db', ['reconcile']);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`the secret ci/deploy was published by another credops state (id ${a}); refusing to take it over`);
    expect(tags()['credops:lease']).toBe(published);
    const b = await stateId('b.db');
    const bLeases = await openState(`sqlite:${join(dir, 'b.db')}`).then(async (s) => [await s.listLeases(), await s.close()][0]);
    expect(bLeases).toEqual([]);

    // With adopt: true, it takes the secret over.
    writeSink(true);
    const adopted = await credops('b.db', ['reconcile']);
    expect(adopted.code, adopted.stderr).toBe(0);
    expect(tags()['credops:state']).toBe(b);

    // The first state's plan --refresh shows it, and its reconcile takes it back.
    writeSink(false);
    const plan = await credops('a.db', ['plan', '--refresh', '--detailed-exitcode']);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain(`secretsmanager ci/deploy was taken over by credops state ${b}`);
    const back = await credops('a.db', ['reconcile']);
    expect(back.code, back.stderr).toBe(0);
    expect(tags()['credops:state']).toBe(a);
    expect(tags()['credops:lease']).not.toBe(published);

    // reconcile --adopt does for one run what adopt: true does.
    const once = await credops('b.db', ['reconcile', '--adopt', 'ci']);
    expect(once.code, once.stderr).toBe(0);
    expect(tags()['credops:state']).toBe(b);
  });
});
