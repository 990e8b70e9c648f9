import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsClientsFor } from '../../src/engine/root.js';
import { UserError } from '../../src/errors.js';
import type { SinkSpec } from '../../src/model/types.js';
import { createSink, type PublishedCredential, type SinkContext } from '../../src/sinks/index.js';
import { openState } from '../../src/state/index.js';
import type { StateStore } from '../../src/state/store.js';
import { mount } from '../integration/helpers.js';
import { localAwsClientConfig, localAwsEnv, startLocalAws, type LocalAws } from '../support/aws/index.js';

let aws: LocalAws;
let state: StateStore;
let ctx: SinkContext;
beforeAll(async () => {
  aws = await startLocalAws();
  state = await openState('sqlite::memory:');
  ctx = { clients: awsClientsFor(state, localAwsEnv(aws)), cwd: '/', mounts: { aws: mount({ region: 'us-east-1' }) } };
});
afterAll(async () => {
  await aws.close();
  await state.close();
});

const spec = (name: string, config: Record<string, unknown>): SinkSpec => ({
  name,
  source: `sinks/${name}.yaml`,
  mount: 'aws',
  role: 'deploy',
  type: 'secretsmanager',
  config,
  grace: 300,
  deletion_policy: 'delete',
  verify: true,
});

const cred: PublishedCredential = {
  accessKeyId: 'AKIAEXAMPLE',
  secretAccessKey: 'very/secret/value',
  expiration: new Date(Date.UTC(2030, 0, 1)),
  leaseId: 'aws/creds/deploy/L1',
};

describe('Secrets Manager sink', () => {
  it('names its target with the mount region, creates the secret with the KMS key and credops tags', async () => {
    const s = createSink(spec('one', { name: 'ci/one', kms_key_id: 'alias/credops' }), ctx);
    expect(s.describe()).toBe('secretsmanager us-east-1 ci/one');
    await s.publish(cred);
    const secret = aws.secrets.get('ci/one')!;
    expect(secret.kmsKeyId).toBe('alias/credops');
    expect(JSON.parse(secret.value!)).toEqual({ AccessKeyId: 'AKIAEXAMPLE', SecretAccessKey: 'very/secret/value', Expiration: '2030-01-01T00:00:00.000Z', lease_id: 'aws/creds/deploy/L1' });
    expect(secret.tags).toEqual(
      expect.arrayContaining([
        { Key: 'credops:managed', Value: 'true' },
        { Key: 'credops:sink', Value: 'one' },
        { Key: 'credops:mount', Value: 'aws' },
        { Key: 'credops:role', Value: 'deploy' },
        { Key: 'credops:lease', Value: 'aws/creds/deploy/L1' },
      ]),
    );
  });

  it('two sinks cannot share a secret', async () => {
    await createSink(spec('first', { name: 'ci/shared' }), ctx).publish(cred);
    const err = await createSink(spec('second', { name: 'ci/shared' }), ctx).publish(cred).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe('sink "second" (sinks/second.yaml): the secret ci/shared belongs to credops sink "first"; two sinks cannot share one secret.');
    await createSink(spec('second', { name: 'ci/shared' }), ctx).remove();
    expect(aws.secrets.get('ci/shared')?.deletedDate).toBeUndefined();
  });

  it('never removes a secret it did not create', async () => {
    const sm = new SecretsManagerClient(localAwsClientConfig(aws));
    await sm.send(new CreateSecretCommand({ Name: 'theirs', SecretString: 'x' }));
    sm.destroy();
    await createSink(spec('x', { name: 'theirs' }), ctx).remove();
    expect(aws.secrets.get('theirs')?.deletedDate).toBeUndefined();
  });

  it('an AWS refusal names the target and the call, never the secret', async () => {
    aws.faults.failNext('CreateSecret', 'AccessDeniedException');
    const err = await createSink(spec('denied', { name: 'ci/denied' }), ctx).publish(cred).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe('secretsmanager us-east-1 ci/denied CreateSecret: AWS AccessDeniedException: Injected AccessDeniedException for CreateSecret');
    expect(JSON.stringify(err)).not.toContain(cred.secretAccessKey);
  });

  it('after a renewal, refresh moves only the published Expiration, and writes nothing when it is already there', async () => {
    const s = createSink(spec('renew', { name: 'ci/renew' }), ctx);
    await s.publish({ ...cred, sessionToken: 'tok' });
    const later = new Date(Date.UTC(2030, 0, 1, 3));
    aws.resetCalls();
    expect(await s.refresh({ leaseId: cred.leaseId, expiration: later })).toBe('refreshed');
    expect(JSON.parse(aws.secrets.get('ci/renew')!.value!)).toEqual({
      AccessKeyId: 'AKIAEXAMPLE',
      SecretAccessKey: 'very/secret/value',
      SessionToken: 'tok',
      Expiration: '2030-01-01T03:00:00.000Z',
      lease_id: 'aws/creds/deploy/L1',
    });
    expect(aws.calls.map((c) => c.action)).toEqual(['DescribeSecret', 'GetSecretValue', 'PutSecretValue']);
    aws.resetCalls();
    expect(await s.refresh({ leaseId: cred.leaseId, expiration: later })).toBe('not-needed');
    expect(aws.calls.map((c) => c.action)).not.toContain('PutSecretValue');
  });

  it('refresh refuses a secret that holds another lease, or that credops does not manage, naming the sink and never the secret', async () => {
    const s = createSink(spec('held', { name: 'ci/held' }), ctx);
    await s.publish(cred);
    const before = aws.secrets.get('ci/held')!.value;
    const err = await s.refresh({ leaseId: 'aws/creds/deploy/OTHER', expiration: new Date(Date.UTC(2031, 0, 1)) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(
      'sink "held" (sinks/held.yaml): the secret ci/held does not hold lease aws/creds/deploy/OTHER as credops published it; refusing to change its expiry',
    );
    expect(JSON.stringify(err)).not.toContain(cred.secretAccessKey);
    expect(aws.secrets.get('ci/held')!.value).toBe(before);

    const sm = new SecretsManagerClient(localAwsClientConfig(aws));
    await sm.send(new CreateSecretCommand({ Name: 'not-ours', SecretString: JSON.stringify({ lease_id: cred.leaseId }) }));
    sm.destroy();
    await expect(createSink(spec('x', { name: 'not-ours' }), ctx).refresh({ leaseId: cred.leaseId, expiration: new Date() })).rejects.toThrow(
      /^sink "x" \(sinks\/x\.yaml\): the secret not-ours exists and was not created by credops/,
    );
    await expect(createSink(spec('y', { name: 'ci/never-published' }), ctx).refresh({ leaseId: cred.leaseId, expiration: new Date() })).rejects.toThrow(
      'sink "y" (sinks/y.yaml): the secret ci/never-published is gone',
    );
  });

  it('refuses a recovery window AWS would refuse', () => {
    expect(() => createSink(spec('w', { name: 'w', recovery_window_days: 3 }), ctx)).toThrow(/recovery_window_days must be 0 \(delete at once\) or 7\.\.30, found 3/);
  });
});
