/**
 * Drift, lease by lease: what `plan --refresh` finds when someone changes a
 * credops user in the console, and what reconcile does about it. Run
 * in-process on the endpoint's clock, so that leases can be aged past the
 * window in which IAM may not show them yet.
 */
import { readFileSync } from 'node:fs';
import { DeleteUserPolicyCommand, DetachUserPolicyCommand, IAMClient, RemoveUserFromGroupCommand } from '@aws-sdk/client-iam';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IssuedCredential } from '../../src/engine/index.js';
import { UserError } from '../../src/errors.js';
import type { PolicyDocument } from '../../src/model/types.js';
import { makePlan } from '../../src/plan/index.js';
import { normalisePolicy } from '../../src/plan/normalise.js';
import { detectDrift, DRIFT_MIN_AGE_MS, driftItems, refreshPlan } from '../../src/reconcile/drift.js';
import { localAwsClientConfig } from '../support/aws/index.js';
import { callerIdentity, role } from '../integration/helpers.js';
import { asCred, deployRole, MINUTE_MS, model, secretCredential, sink, sinkWorld, type SinkWorld } from './harness.js';

let w: SinkWorld;
/** What a person does in the AWS console, with the account's own credentials. */
let iamConsole: IAMClient;
beforeEach(async () => {
  w = await sinkWorld();
  iamConsole = new IAMClient(localAwsClientConfig(w.aws));
});
afterEach(async () => {
  iamConsole.destroy();
  await w.close();
});

const drift = async () => detectDrift({ state: w.t.state, clients: w.clients, clock: w.aws.clock });
const age = () => w.aws.clock.advance(DRIFT_MIN_AGE_MS + MINUTE_MS);
const issue = (): Promise<IssuedCredential> => w.engine.issue({ mount: 'aws', role: 'deploy', path: 'creds' });
const decoded = (doc: string) => normalisePolicy(JSON.parse(decodeURIComponent(doc)) as PolicyDocument);

describe('a dead credential', () => {
  it('a deactivated key is drift; reconcile revokes the lease and deletes what is left of the user', async () => {
    await w.reconcile(model('c1', []));
    const cred = await issue();
    age();
    w.aws.iam.setAccessKeyStatus(cred.accessKeyId, 'Inactive');

    const report = await drift();
    const userName = cred.lease.resources.userName!;
    expect(driftItems(report)).toEqual([
      { leaseId: cred.lease.leaseId, kind: 'key_inactive', detail: `access key ${cred.accessKeyId} of IAM user ${userName} is Inactive` },
    ]);

    const result = await w.reconcile(model('c1', []));
    expect(result.drift).toEqual(driftItems(report));
    expect(result.revoked).toEqual([cred.lease.leaseId]);
    expect(w.aws.iam.user(userName)).toBeUndefined();
    expect(await w.t.state.getLease(cred.lease.leaseId)).toBeUndefined();
  });

  it('a deleted key of a sink is drift; reconcile publishes a new key to the sink', async () => {
    const desired = model('c1', [sink('ci', 'secretsmanager', { name: 'ci/deploy' })]);
    await w.reconcile(desired);
    const before = secretCredential(w.aws, 'ci/deploy');
    age();
    w.aws.iam.deleteAccessKey(before.AccessKeyId);

    expect(driftItems(await drift())).toMatchObject([{ leaseId: before.lease_id, sink: 'ci', kind: 'key_deleted' }]);
    const result = await w.reconcile(desired);
    expect(result.sinks).toMatchObject([{ sink: 'ci', outcome: 'issued' }]);
    const after = secretCredential(w.aws, 'ci/deploy');
    expect(after.AccessKeyId).not.toBe(before.AccessKeyId);
    await callerIdentity(w.aws, asCred(after));
  });
});

describe('changed permissions', () => {
  it('are put back as the lease recorded them, keeping the key; a second reconcile writes nothing', async () => {
    const readOnly = w.aws.iam.createManagedPolicy('ReadOnly').arn;
    const admin = w.aws.iam.createManagedPolicy('Admin').arn;
    w.aws.iam.createGroup('deployers');
    w.aws.iam.createGroup('admins');
    const desired = model('c1', [], { roles: [deployRole({ policy_arns: [readOnly], iam_groups: ['deployers'] })] });
    await w.reconcile(desired);
    const cred = await issue();
    const userName = cred.lease.resources.userName!;
    age();

    // Someone widens the user in the console.
    const star = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] });
    w.aws.iam.putUserPolicy(userName, 'credops', star);
    await iamConsole.send(new DetachUserPolicyCommand({ UserName: userName, PolicyArn: readOnly }));
    w.aws.iam.attachUserPolicy(userName, admin);
    await iamConsole.send(new RemoveUserFromGroupCommand({ UserName: userName, GroupName: 'deployers' }));
    w.aws.iam.addUserToGroup(userName, 'admins');

    const items = driftItems(await drift());
    expect(items.map((i) => [i.kind, i.detail])).toEqual([
      ['policy_changed', `inline policy credops of IAM user ${userName} differs from aws/roles/deploy's policy_document`],
      ['policy_detached', `managed policy ${readOnly} was detached from IAM user ${userName}`],
      ['policy_changed', `managed policy ${admin} was attached to IAM user ${userName} outside credops`],
      ['group_removed', `IAM user ${userName} was removed from group deployers`],
      ['policy_changed', `IAM user ${userName} was added to group admins outside credops`],
    ]);

    const result = await w.reconcile(desired);
    expect(result.failed).toEqual([]);
    expect(result.revoked).toEqual([]);
    const user = w.aws.iam.user(userName)!;
    expect(decoded(user.inlinePolicies.credops!)).toEqual(normalisePolicy(desired.roles[0]!.policy_document!));
    expect(user.attachedPolicies).toEqual([readOnly]);
    expect(user.groups).toEqual(['deployers']);
    expect(user.accessKeys.map((k) => [k.accessKeyId, k.status])).toEqual([[cred.accessKeyId, 'Active']]);
    expect(await w.t.state.getLease(cred.lease.leaseId)).toEqual(cred.lease);
    const audit = readFileSync(w.t.auditPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(audit.filter((r) => r.operation === 'repair').map((r) => [r.lease_id, r.outcome])).toEqual([[cred.lease.leaseId, 'ok']]);

    w.aws.resetCalls();
    const again = await w.reconcile(desired);
    expect(again.drift).toEqual([]);
    expect(w.writes()).toEqual([]);
  });

  it('an inline policy deleted in the console is put back', async () => {
    await w.reconcile(model('c1', []));
    const cred = await issue();
    const userName = cred.lease.resources.userName!;
    age();
    await iamConsole.send(new DeleteUserPolicyCommand({ UserName: userName, PolicyName: 'credops' }));
    expect(driftItems(await drift())).toMatchObject([{ kind: 'policy_changed', detail: `inline policy credops of IAM user ${userName} was deleted` }]);
    await w.reconcile(model('c1', []));
    expect(Object.keys(w.aws.iam.user(userName)!.inlinePolicies)).toEqual(['credops']);
    expect(driftItems(await drift())).toEqual([]);
  });
});

describe('what is not drift', () => {
  it('a role changed in git: leases issued before keep their policy, and reconcile twice writes nothing the second time', async () => {
    await w.reconcile(model('c1', []));
    const cred = await issue();
    age();
    const wider = deployRole({ policy_document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: '*' }] } });

    const first = await w.reconcile(model('c2', [], { roles: [wider] }));
    expect(first.drift).toEqual([]);
    w.aws.resetCalls();
    const second = await w.reconcile(model('c2', [], { roles: [wider] }));
    expect(second.drift).toEqual([]);
    expect(w.writes()).toEqual([]);
    expect(await w.t.state.getLease(cred.lease.leaseId)).toEqual(cred.lease);
  });

  it('a lease younger than IAM takes to show it is not checked yet', async () => {
    await w.reconcile(model('c1', []));
    const cred = await issue();
    w.aws.iam.deleteUser(cred.lease.resources.userName!);
    const young = await drift();
    expect(young).toMatchObject({ drifted: [], checked: 0, skipped: 1 });
    age();
    expect(driftItems(await drift())).toMatchObject([{ kind: 'user_deleted' }]);
  });

  it('an STS lease has nothing in AWS to check', async () => {
    const fed = role('fed', { credential_types: ['federation_token'], policy_document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] } });
    await w.reconcile(model('c1', [], { roles: [fed] }));
    await w.engine.issue({ mount: 'aws', role: 'fed', path: 'sts', ttl: 3600 });
    age();
    w.aws.resetCalls();
    expect(await drift()).toMatchObject({ drifted: [], checked: 0, skipped: 1, failed: [] });
    expect(w.aws.calls).toEqual([]);
  });
});

describe('a check that fails', () => {
  it('fails plan --refresh with the AWS error, naming the lease', async () => {
    const desired = model('c1', []);
    await w.reconcile(desired);
    const cred = await issue();
    age();
    w.aws.faults.failNext('GetUser', 'AccessDenied');
    const plan = makePlan(desired, await w.t.state.getApplied(), await w.t.state.listLeases());
    const refused = await refreshPlan(plan, { state: w.t.state, clients: w.clients, clock: w.aws.clock }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(UserError);
    expect((refused as Error).message).toMatch(new RegExp(`^checking 1 lease for drift failed; first, ${cred.lease.leaseId}: aws/roles/deploy GetUser: AWS AccessDenied`));
  });
});
