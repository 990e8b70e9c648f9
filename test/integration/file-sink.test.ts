/**
 * Story: a developer's ~/.aws/credentials holds their own profiles and
 * comments. credops manages one profile in it (sinks/laptop.yaml): it adds it,
 * rotates it, and removes it, and every other byte of the file stays exactly
 * as the developer wrote it. The AWS SDK reads the profile as it reads any.
 */
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromIni } from '@aws-sdk/credential-providers';
import { appendFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDesired } from '../../src/load/index.js';
import { cli, fixtureRepo, MINUTE_MS, eachSinkWorld, type SinkWorld } from '../reconcile/harness.js';
import { callerIdentity, rejectionCode } from './helpers.js';

let w: SinkWorld;
eachSinkWorld((world) => (w = world));

const DEVELOPER_FILE = [
  '# ~/.aws/credentials of a developer',
  '[default]',
  'aws_access_key_id = AKIADEVELOPEROWN0001',
  'aws_secret_access_key = developer/own/secret ; do not share',
  '',
  '; the staging account',
  '[staging]',
  'aws_access_key_id=AKIASTAGING000000001',
  'aws_secret_access_key=staging/secret',
  'region = eu-west-1',
  '',
].join('\n');

const HEADER = '[credops-deploy]\n';

/** The file split around the managed profile: [before, profile lines, after]. */
function around(text: string): [string, string, string] {
  const start = text.indexOf(HEADER);
  expect(start).toBeGreaterThanOrEqual(0);
  const lines = text.slice(start).split('\n');
  let n = 1;
  while (n < lines.length && /^(#|aws_)/.test(lines[n]!)) n++;
  const section = lines.slice(0, n).join('\n');
  return [text.slice(0, start), section, text.slice(start + section.length)];
}

function profileKey(text: string): { accessKeyId: string; secretAccessKey: string } {
  const section = around(text)[1];
  return {
    accessKeyId: /aws_access_key_id = (\S+)/.exec(section)![1]!,
    secretAccessKey: /aws_secret_access_key = (\S+)/.exec(section)![1]!,
  };
}

describe('a file sink in a shared credentials file', () => {
  it('adds, rotates and removes its profile and keeps every other byte of the file', async () => {
    const repo = fixtureRepo(w, 'sinks-file');
    const path = join(w.dir, '.aws/credentials');
    mkdirSync(join(w.dir, '.aws'), { mode: 0o700 });
    writeFileSync(path, DEVELOPER_FILE, { mode: 0o600 });

    const first = await cli(w, ['reconcile', '--repo', repo]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('sinks: 1 issued, 0 rotated, 0 failed;');
    const published = readFileSync(path, 'utf8');
    expect(around(published)[0]).toBe(`${DEVELOPER_FILE}\n`);
    expect(statSync(path).mode & 0o777).toBe(0o600);

    // The SDK's own profile reader takes the key, and AWS accepts it.
    const sts = new STSClient({ region: w.aws.region, endpoint: w.aws.url, credentials: fromIni({ profile: 'credops-deploy', filepath: path, configFilepath: '/dev/null' }) });
    expect((await sts.send(new GetCallerIdentityCommand({}))).Arn).toMatch(/:user\/.*deploy/);
    sts.destroy();

    // Nothing due: no AWS write, and the file is not touched.
    w.aws.resetCalls();
    const idle = await cli(w, ['reconcile', '--repo', repo]);
    expect(idle.code).toBe(0);
    expect(w.writes()).toEqual([]);
    expect(readFileSync(path, 'utf8')).toBe(published);

    // The developer adds a profile after credops's one; then the key is rotated.
    appendFileSync(path, '\n[personal]\naws_access_key_id = AKIAPERSONAL00000001\n');
    const edited = readFileSync(path, 'utf8');
    const key1 = profileKey(edited);
    w.aws.clock.advance(41 * MINUTE_MS);
    const { model } = await loadDesired({ repo, cacheDir: join(w.dir, '.credops/cache') });
    const rotated = await w.reconcile(model);
    expect(rotated.sinks).toMatchObject([{ sink: 'laptop', outcome: 'rotated' }]);
    const after = readFileSync(path, 'utf8');
    const key2 = profileKey(after);
    expect(key2.accessKeyId).not.toBe(key1.accessKeyId);
    const [beforeNow, , afterNow] = around(after);
    const [beforeThen, , afterThen] = around(edited);
    expect(Buffer.from(beforeNow)).toEqual(Buffer.from(beforeThen));
    expect(Buffer.from(afterNow)).toEqual(Buffer.from(afterThen));
    await callerIdentity(w.aws, key1); // in its grace
    await callerIdentity(w.aws, key2);

    // The sink leaves the repo: its profile goes, the rest is the developer's file.
    rmSync(join(repo, 'sinks/laptop.yaml'));
    const removed = await cli(w, ['reconcile', '--repo', repo]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain('1 removed, 0 failed; 2 leases revoked.');
    expect(readFileSync(path, 'utf8')).toBe(`${DEVELOPER_FILE}\n\n[personal]\naws_access_key_id = AKIAPERSONAL00000001\n`);
    expect(await rejectionCode(callerIdentity(w.aws, key2))).toBe('InvalidClientTokenId');
    expect(await rejectionCode(callerIdentity(w.aws, key1))).toBe('InvalidClientTokenId');
  });
});
