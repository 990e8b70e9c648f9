/**
 * Story: the state file of a team was lost and restored from an old backup.
 * IAM users that credops created since are still in AWS, with live keys, but
 * no lease names them. `credops tidy --orphans` lists them (by credops's tags,
 * or by a name only credops's username_template makes); `--delete` removes
 * them with everything attached. Users the state knows, the identity credops
 * acts as, and everybody else's users are never touched.
 */
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/runtime.js';
import { usernamePattern, userPaths } from '../../src/engine/orphans.js';
import { localAwsClientConfig, localAwsEnv } from '../support/aws/index.js';
import { callerIdentity, rejectionCode } from './helpers.js';
import { deployRole, model, sinkWorld, type SinkWorld } from '../reconcile/harness.js';

let w: SinkWorld;
let iamConsole: IAMClient;
beforeEach(async () => {
  w = await sinkWorld();
  iamConsole = new IAMClient(localAwsClientConfig(w.aws));
});
afterEach(async () => {
  iamConsole.destroy();
  await w.close();
});

async function credops(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    readStdin: async () => '',
    isTTY: false,
    env: { ...localAwsEnv(w.aws), CREDOPS_STATE: w.t.url, CREDOPS_AUDIT_LOG: w.t.auditPath, NO_COLOR: '1' },
    cwd: w.dir,
  };
  const code = await main(['node', 'credops', ...args], io);
  return { code, stdout, stderr };
}

/** A user created by a credops whose state is lost: credops's name, path and tags, a key that works. */
async function lostUser(name: string, leaseId: string, path = '/') {
  await iamConsole.send(
    new CreateUserCommand({
      UserName: name,
      Path: path,
      Tags: [
        { Key: 'credops:mount', Value: 'aws' },
        { Key: 'credops:role', Value: 'deploy' },
        { Key: 'credops:lease', Value: leaseId },
      ],
    }),
  );
  w.aws.iam.putUserPolicy(name, 'credops', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] }));
  const key = await iamConsole.send(new CreateAccessKeyCommand({ UserName: name }));
  return { accessKeyId: key.AccessKey!.AccessKeyId!, secretAccessKey: key.AccessKey!.SecretAccessKey! };
}

describe('tidy --orphans after a lost state', () => {
  it('lists the users the state does not know and deletes them, touching nothing else', async () => {
    // The state as restored: the deploy role, and one lease it knows.
    await w.reconcile(model('c1', []));
    const known = await w.engine.issue({ mount: 'aws', role: 'deploy', path: 'creds' });

    const lost = 'credops-deploy-1760000000-Q1w2E3r4';
    const lostKey = await lostUser(lost, 'aws/creds/deploy/LOSTLEASE0001');
    // Tags gone (say, stripped by hand), but the name is one only the username_template makes.
    const untagged = 'credops-deploy-1760000100-Z9x8C7v6';
    w.aws.iam.createUser(untagged);
    // Not credops's: someone's user, and one whose name merely starts like credops's.
    w.aws.iam.createUser('alice');
    w.aws.iam.createUser('credops-ci-bot');
    // A user of a run issuing right now: the journal names it.
    w.aws.iam.createUser('credops-deploy-1760000200-InFl1ght');
    await w.t.state.putJournal({ id: 'j1', leaseId: 'aws/creds/deploy/INFLIGHT', mount: 'aws', role: 'deploy', kind: 'iam_user', data: { userName: 'credops-deploy-1760000200-InFl1ght' }, createdAt: w.aws.clock.now() });

    w.aws.resetCalls();
    const listed = await credops(['tidy', '--orphans']);
    expect(listed.code).toBe(0);
    const rows = listed.stdout.split('\n');
    expect(rows[0]).toMatch(/^User\s+Path\s+Created\s+Mount\s+Lease\s+Matched by$/);
    expect(rows[1]).toMatch(new RegExp(`^${lost}\\s+/\\s+\\d{4}-\\d\\d-\\d\\dT\\S+Z\\s+aws\\s+aws/creds/deploy/LOSTLEASE0001\\s+credops tags$`));
    expect(rows[2]).toMatch(new RegExp(`^${untagged}\\s+/\\s+\\S+\\s+aws\\s+-\\s+user name$`));
    expect(rows.slice(3)).toEqual(['', '2 orphaned IAM users. Delete with: credops tidy --orphans --delete', '']);

    const json = JSON.parse((await credops(['tidy', '--orphans', '--format', 'json'])).stdout);
    expect(json.orphans).toMatchObject([
      { mount: 'aws', user_name: lost, path: '/', role: 'deploy', lease_id: 'aws/creds/deploy/LOSTLEASE0001', matched_by: 'tags' },
      { mount: 'aws', user_name: untagged, path: '/', role: null, lease_id: null, matched_by: 'name' },
    ]);
    // Listing is read-only.
    expect(w.writes()).toEqual([]);

    // The in-flight run is over (its entry is gone, its user with it) before --delete takes the lock.
    await w.t.state.deleteJournal('j1');
    w.aws.iam.deleteUser('credops-deploy-1760000200-InFl1ght');

    const deleted = await credops(['tidy', '--orphans', '--delete']);
    expect(deleted.stderr).toBe('');
    expect(deleted.code).toBe(0);
    expect(deleted.stdout.trimEnd().split('\n').at(-1)).toBe('Deleted 2 orphaned IAM users; 0 already gone; 0 failed.');
    expect(w.aws.iam.user(lost)).toBeUndefined();
    expect(w.aws.iam.user(untagged)).toBeUndefined();
    expect(await rejectionCode(callerIdentity(w.aws, lostKey))).toBe('InvalidClientTokenId');
    // Keys first: the safe order.
    const order = w.aws.calls.filter((c) => c.resource === lost || c.resource === lostKey.accessKeyId).map((c) => c.action);
    expect(order.indexOf('DeleteAccessKey')).toBeLessThan(order.indexOf('DeleteUser'));

    // Untouched: the known lease's user and key, the identity credops acts as, everybody else's users.
    await callerIdentity(w.aws, known);
    expect(w.aws.iam.user(known.lease.resources.userName!)).toBeDefined();
    expect(w.aws.iam.user(w.aws.root.userName)).toBeDefined();
    expect(w.aws.iam.user('alice')).toBeDefined();
    expect(w.aws.iam.user('credops-ci-bot')).toBeDefined();

    const after = await credops(['tidy', '--orphans']);
    expect(after.stdout).toBe('No orphaned IAM users: every credops user in AWS is known to the state.\n');
  });

  it('with an empty state, every credops user is an orphan; the identity credops acts as never is', async () => {
    // Whatever the root's name, it is found through GetCallerIdentity, not spared by luck.
    const root = w.aws.root.userName;
    w.aws.iam.tagUser(root, [{ Key: 'credops:mount', Value: 'aws' }]);
    const lost = 'credops-deploy-1760000000-Q1w2E3r4';
    await lostUser(lost, 'aws/creds/deploy/LOSTLEASE0001');

    const json = JSON.parse((await credops(['tidy', '--orphans', '--format', 'json'])).stdout);
    expect(json.orphans.map((o: { user_name: string }) => o.user_name)).toEqual([lost]);
    const deleted = JSON.parse((await credops(['tidy', '--orphans', '--delete', '--format', 'json'])).stdout);
    expect(deleted).toMatchObject({ deleted: [lost], already_gone: [], failed: [] });
    expect(w.aws.iam.user(root)).toBeDefined();
  });

  it('looks only under the user_path of the roles, and only at the mount asked for', async () => {
    await w.reconcile(model('c1', [], { roles: [deployRole({ user_path: '/credops/' })] }));
    await lostUser('credops-deploy-1760000000-UnderPth', 'aws/creds/deploy/L1', '/credops/');
    await lostUser('credops-deploy-1760000000-ElseWher', 'aws/creds/deploy/L2', '/');

    const json = JSON.parse((await credops(['tidy', '--orphans', '--format', 'json'])).stdout);
    expect(json.orphans.map((o: { user_name: string; path: string }) => [o.user_name, o.path])).toEqual([['credops-deploy-1760000000-UnderPth', '/credops/']]);
    expect(w.aws.calls.filter((c) => c.action === 'ListUsers').length).toBeGreaterThan(0);

    const other = JSON.parse((await credops(['tidy', '--orphans', '--mount', 'aws-eu', '--format', 'json'])).stdout);
    expect(other.orphans).toEqual([]);
  });

  it('says what to tidy when --orphans is missing', async () => {
    const run = await credops(['tidy']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('say what to tidy: --orphans');
  });
});

describe('what counts as credops\'s user name', () => {
  it('is the whole shape of the username_template, not a prefix', () => {
    const pattern = usernamePattern('credops-{{role}}-{{unix_time}}-{{random 8}}')!;
    expect(pattern.test('credops-deploy-1760000000-Q1w2E3r4')).toBe(true);
    expect(pattern.test('credops-root')).toBe(false);
    expect(pattern.test('credops-ci-bot')).toBe(false);
    expect(pattern.test('credops-deploy-1760000000-Q1w2E3r4x')).toBe(false);
    expect(usernamePattern('vault-{{mount}}.{{role}}-{{random 4}}')!.test('vault-aws.deploy-ab12')).toBe(true);
  });

  it('is not used for templates too loose to tell credops\'s users from anyone\'s', () => {
    expect(usernamePattern('{{role}}-{{random 8}}')).toBeUndefined();
    expect(usernamePattern('credops-{{role}}')).toBeUndefined();
  });

  it('user paths: the roles\' user_path values, none under another, "/" by default', () => {
    const applied = (paths: (string | undefined)[]) => ({
      serial: 1,
      sinks: [],
      mounts: [],
      roles: paths.map((user_path, i) => ({ ...deployRole({ name: `r${i}`, ...(user_path && { user_path }) }) })),
    });
    expect(userPaths(applied(['/credops/', '/credops/ci/', '/team/']), 'aws')).toEqual(['/credops/', '/team/']);
    expect(userPaths(applied([undefined, '/credops/']), 'aws')).toEqual(['/']);
    expect(userPaths(applied([]), 'aws')).toEqual(['/']);
  });
});
