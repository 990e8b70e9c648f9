/**
 * Story: publishing fails (Secrets Manager refuses, a file cannot be written,
 * a secret of the same name belongs to someone else). The key issued for it is
 * revoked at once, so no live key exists that nobody holds; the other sinks go
 * ahead; the failure is reported and recorded; a later reconcile, after the
 * sink's backoff, tries again.
 */
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SINK_RETRY_FIRST_MS } from '../../src/reconcile/lifecycle.js';
import { asCred, cli, fixtureRepo, MINUTE_MS, model, secretCredential, sink, eachSinkWorld, type SinkWorld } from '../reconcile/harness.js';
import { localAwsClientConfig } from '../support/aws/index.js';
import { callerIdentity, credopsUsers } from './helpers.js';

let w: SinkWorld;
eachSinkWorld((world) => (w = world));

const secretSink = sink('ci-deploy', 'secretsmanager', { name: 'ci/deploy' });
const fileSink = sink('laptop', 'file', { path: 'aws/credentials', profile: 'deploy' });

describe('a publish that fails', () => {
  it('revokes the key just issued, lets the other sinks through, and succeeds on the next reconcile', async () => {
    w.aws.faults.failNext('CreateSecret', 'AccessDeniedException');
    const failed = await w.reconcile(model('c1', [secretSink, fileSink]));
    const [ci, laptop] = failed.sinks;
    expect(ci).toMatchObject({ sink: 'ci-deploy', outcome: 'failed' });
    expect(ci!.error).toBe('secretsmanager ci/deploy CreateSecret: AWS AccessDeniedException: Injected AccessDeniedException for CreateSecret');
    expect(ci!.revoked).toHaveLength(1);
    expect(laptop).toMatchObject({ sink: 'laptop', outcome: 'issued' });

    // The only key alive is the one the file holds.
    expect(credopsUsers(w.aws)).toHaveLength(1);
    expect((await w.t.state.listLeases()).map((l) => l.sink)).toEqual(['laptop']);
    expect(w.aws.secrets.get('ci/deploy')).toBeUndefined();
    expect(await w.t.state.getSinkStatus('ci-deploy')).toMatchObject({ lastError: ci!.error });

    // The failed sink backs off (lifecycle.ts): the next reconcile after its first wait tries again.
    w.aws.clock.advance(SINK_RETRY_FIRST_MS);
    const retry = await w.reconcile(model('c1', [secretSink, fileSink]));
    expect(retry.sinks.map((s) => s.outcome)).toEqual(['issued', 'unchanged']);
    await callerIdentity(w.aws, asCred(secretCredential(w.aws, 'ci/deploy')));
    expect((await w.t.state.getSinkStatus('ci-deploy'))?.lastError).toBeUndefined();
  });

  it('on rotation keeps the published key working and revokes the new one', async () => {
    await w.reconcile(model('c1', [secretSink]));
    const key1 = secretCredential(w.aws, 'ci/deploy');
    w.aws.clock.advance(41 * MINUTE_MS);
    w.aws.faults.failNext('PutSecretValue', 'InternalServiceError', 4); // every SDK retry
    const failed = await w.reconcile(model('c1', [secretSink]));
    expect(failed.sinks).toMatchObject([{ outcome: 'failed' }]);
    expect(secretCredential(w.aws, 'ci/deploy').AccessKeyId).toBe(key1.AccessKeyId);
    await callerIdentity(w.aws, asCred(key1));
    expect(credopsUsers(w.aws)).toHaveLength(1);
    expect((await w.t.state.listLeases()).map((l) => [l.leaseId, l.revokeAt])).toEqual([[key1.lease_id, undefined]]);

    w.aws.clock.advance(SINK_RETRY_FIRST_MS);
    const retry = await w.reconcile(model('c1', [secretSink]));
    expect(retry.sinks).toMatchObject([{ outcome: 'rotated', retired: [key1.lease_id] }]);
  });

  it('to a file that cannot be written leaves no live key', async () => {
    writeFileSync(join(w.dir, 'aws'), 'a file where the directory should be');
    const failed = await w.reconcile(model('c1', [fileSink]));
    expect(failed.sinks).toMatchObject([{ outcome: 'failed', error: expect.stringMatching(/aws\/credentials \[deploy\]: cannot (read|write): ENOTDIR/) }]);
    expect(credopsUsers(w.aws)).toEqual([]);
    expect(await w.t.state.listLeases()).toEqual([]);
  });

  it('into a secret credops did not create is refused, naming the sink; the CLI exits 1 and the other sink is published', async () => {
    const sm = new SecretsManagerClient(localAwsClientConfig(w.aws));
    await sm.send(new CreateSecretCommand({ Name: 'ci/deploy', SecretString: 'someone else\'s' }));
    sm.destroy();
    const repo = fixtureRepo(w, 'sinks-secretsmanager');
    const run = await cli(w, ['reconcile', '--repo', repo]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'sink ci-deploy: issue (new sink): FAILED: sink "ci-deploy" (sinks/ci-deploy.yaml): the secret ci/deploy exists and was not created by credops',
    );
    expect(run.stdout).toContain('sinks: 1 issued, 0 rotated, 1 failed;');
    expect(w.aws.secrets.get('ci/deploy')?.value).toBe('someone else\'s');
    expect(credopsUsers(w.aws)).toHaveLength(1);
    expect(secretCredential(w.aws, 'ci/audit').AccessKeyId).toBe(credopsUsers(w.aws)[0]!.accessKeys[0]!.accessKeyId);
  });
});
