import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AwsClients } from '../../src/aws/clients.js';
import { UserError } from '../../src/errors.js';
import type { SinkSpec } from '../../src/model/types.js';
import { createSink, type PublishedCredential } from '../../src/sinks/index.js';

const noAws = new Proxy({}, { get: () => () => { throw new Error('a file sink made an AWS call'); } }) as AwsClients;

function spec(config: Record<string, unknown>, name = 'ci'): SinkSpec {
  return { name, source: `sinks/${name}.yaml`, mount: 'aws', role: 'deploy', type: 'file', config, grace: 300, deletion_policy: 'delete', verify: true };
}

const cred = (n: number, sessionToken?: string): PublishedCredential => ({
  accessKeyId: `AKIAEXAMPLE${n}`,
  secretAccessKey: `wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLE${n}`,
  ...(sessionToken ? { sessionToken } : {}),
  expiration: new Date(Date.UTC(2030, 0, 1, 12)),
  leaseId: `aws/creds/deploy/lease${n}`,
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'credops-file-sink-'));
});
afterEach(async () => {
  await chmod(dir, 0o700).catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

const sink = (config: Record<string, unknown>, name?: string) => createSink(spec(config, name), { clients: noAws, cwd: dir, home: join(dir, 'home') });
const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe('file sink', () => {
  it('writes an AWS credentials profile with mode 0600 in a new 0700 directory, under ~ when asked', async () => {
    const s = sink({ path: '~/.aws/credentials', profile: 'ci' });
    expect(s.describe()).toBe(`file ${join(dir, 'home/.aws/credentials')} [ci]`);
    await s.publish(cred(1, 'token1'));
    const path = join(dir, 'home/.aws/credentials');
    const text = await readFile(path, 'utf8');
    expect(text).toContain('[ci]\n# credops sink ci: lease aws/creds/deploy/lease1, expires 2030-01-01T12:00:00.000Z');
    expect(text).toContain('aws_access_key_id = AKIAEXAMPLE1\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLE1\naws_session_token = token1\n');
    expect(await mode(path)).toBe(0o600);
    expect(await mode(join(dir, 'home/.aws'))).toBe(0o700);
    expect((await readdir(join(dir, 'home/.aws'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('rotating an existing 0644 file tightens it to 0600 and keeps the other profiles', async () => {
    const path = join(dir, 'credentials');
    const others = '[default]\naws_access_key_id = MINE\n';
    await writeFile(path, others, { mode: 0o644 });
    const s = sink({ path: 'credentials', profile: 'ci' });
    await s.publish(cred(1));
    await s.publish(cred(2));
    const text = await readFile(path, 'utf8');
    expect(text.startsWith(others)).toBe(true);
    expect(text).toContain('AKIAEXAMPLE2');
    expect(text).not.toContain('AKIAEXAMPLE1');
    expect(await mode(path)).toBe(0o600);
  });

  it('refuses to overwrite a profile it did not write, naming the sink', async () => {
    const path = join(dir, 'credentials');
    await writeFile(path, '[ci]\naws_access_key_id = SOMEONE\n');
    const err = await sink({ path, profile: 'ci' }).publish(cred(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/sink "ci" \(sinks\/ci.yaml\): file .*credentials \[ci\] exists and was not written by credops/);
    expect(await readFile(path, 'utf8')).toBe('[ci]\naws_access_key_id = SOMEONE\n');
  });

  it('json is credential_process output; remove deletes the file', async () => {
    const s = sink({ path: 'out/creds.json', format: 'json' });
    await s.publish(cred(3, 'tok'));
    const path = join(dir, 'out/creds.json');
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({
      Version: 1,
      AccessKeyId: 'AKIAEXAMPLE3',
      SecretAccessKey: cred(3).secretAccessKey,
      SessionToken: 'tok',
      Expiration: '2030-01-01T12:00:00.000Z',
      lease_id: 'aws/creds/deploy/lease3',
      credops_sink: 'ci',
    });
    await s.remove();
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    await s.remove(); // gone already is fine
  });

  it('dotenv uses the variables the AWS SDKs read; a file of another sink is refused', async () => {
    await sink({ path: 'ci.env', format: 'dotenv' }).publish(cred(4));
    const text = await readFile(join(dir, 'ci.env'), 'utf8');
    expect(text).toMatch(/^# credops sink ci: /);
    expect(text).toContain(`AWS_ACCESS_KEY_ID=AKIAEXAMPLE4\nAWS_SECRET_ACCESS_KEY=${cred(4).secretAccessKey}\nAWS_CREDENTIAL_EXPIRATION=2030-01-01T12:00:00.000Z\nCREDOPS_LEASE_ID=aws/creds/deploy/lease4\n`);
    expect(text).not.toContain('AWS_SESSION_TOKEN');
    await expect(sink({ path: 'ci.env', format: 'dotenv' }, 'other').publish(cred(5))).rejects.toThrow(/not written by credops/);
  });

  it('removing the profile leaves a file it did not write untouched', async () => {
    const path = join(dir, 'credentials');
    await writeFile(path, '[ci]\naws_access_key_id = SOMEONE\n');
    await sink({ path, profile: 'ci' }).remove();
    expect(await readFile(path, 'utf8')).toBe('[ci]\naws_access_key_id = SOMEONE\n');
  });

  it('a symbolic link at the path is refused: the file it points to is left as it was, mode and bytes', async () => {
    await mkdir(join(dir, 'elsewhere'));
    await writeFile(join(dir, 'elsewhere/notes'), '[default]\nx = 1\n', { mode: 0o644 });
    await symlink(join(dir, 'elsewhere/notes'), join(dir, 'credentials'));
    const s = sink({ path: 'credentials', profile: 'ci' });
    await expect(s.publish(cred(6))).rejects.toThrow(/is a symbolic link; credops writes only the regular file a sink names/);
    await expect(s.remove()).rejects.toThrow(UserError);
    expect(await readFile(join(dir, 'elsewhere/notes'), 'utf8')).toBe('[default]\nx = 1\n');
    expect(await mode(join(dir, 'elsewhere/notes'))).toBe(0o644);
    expect((await lstat(join(dir, 'credentials'))).isSymbolicLink()).toBe(true);
  });

  it('a path through a missing directory and ".." writes only the resolved file, and makes no directory on the way', async () => {
    await mkdir(join(dir, 'v'));
    await writeFile(join(dir, 'v/data.json'), '{"someone": "else"}\n');
    const s = sink({ path: join(dir, 'nonexist/../v/data.json'), format: 'json' });
    expect(s.describe()).toBe(`file ${join(dir, 'v/data.json')} (json)`);
    await expect(s.publish(cred(7))).rejects.toThrow(/exists and was not written by credops; refusing to overwrite it/);
    expect(await readFile(join(dir, 'v/data.json'), 'utf8')).toBe('{"someone": "else"}\n');
    expect(await readdir(dir)).toEqual(['v']);

    await sink({ path: join(dir, 'nonexist/../v/ours.json'), format: 'json' }).publish(cred(7));
    expect((await readdir(dir)).sort()).toEqual(['v']);
    expect(JSON.parse(await readFile(join(dir, 'v/ours.json'), 'utf8')).AccessKeyId).toBe('AKIAEXAMPLE7');
  });

  it('after a renewal, refresh moves the expiry each format shows, keeps the rest byte for byte, and refuses another lease', async () => {
    const later = new Date(Date.UTC(2030, 0, 1, 15));
    const update = { leaseId: cred(8).leaseId, expiration: later };

    const json = sink({ path: 'ci.json', format: 'json' });
    await json.publish(cred(8, 'tok8'));
    const published = JSON.parse(await readFile(join(dir, 'ci.json'), 'utf8')) as Record<string, unknown>;
    expect(await json.refresh(update)).toBe('refreshed');
    expect(JSON.parse(await readFile(join(dir, 'ci.json'), 'utf8'))).toEqual({ ...published, Expiration: '2030-01-01T15:00:00.000Z' });
    expect(await mode(join(dir, 'ci.json'))).toBe(0o600);
    expect(await json.refresh(update)).toBe('not-needed');

    const path = join(dir, 'credentials');
    await writeFile(path, '[default]\r\naws_access_key_id = MINE\r\n');
    const ini = sink({ path: 'credentials', profile: 'ci' });
    await ini.publish(cred(8));
    await writeFile(path, `${(await readFile(path, 'utf8')).replace('aws_access_key_id = AKIA', 'region = eu-west-1\r\naws_access_key_id = AKIA')}\r\n[last]\r\nx = 1`);
    const before = await readFile(path, 'utf8');
    expect(before).toContain('region = eu-west-1');
    expect(await ini.refresh(update)).toBe('refreshed');
    expect(await readFile(path, 'utf8')).toBe(before.replace('expires 2030-01-01T12:00:00.000Z', 'expires 2030-01-01T15:00:00.000Z'));

    const env = sink({ path: 'ci.env', format: 'dotenv' });
    await env.publish(cred(8));
    const envBefore = await readFile(join(dir, 'ci.env'), 'utf8');
    expect(await env.refresh(update)).toBe('refreshed');
    expect(await readFile(join(dir, 'ci.env'), 'utf8')).toBe(envBefore.replaceAll('2030-01-01T12:00:00.000Z', '2030-01-01T15:00:00.000Z'));

    for (const s of [json, ini, env]) {
      const err = await s.refresh({ leaseId: 'aws/creds/deploy/other', expiration: later }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toMatch(/^sink "ci" \(sinks\/ci\.yaml\): file .* does not hold lease aws\/creds\/deploy\/other as credops published it; refusing to change its expiry$/);
      expect((err as Error).message).not.toContain(cred(8).secretAccessKey);
    }
    await expect(sink({ path: 'missing.json', format: 'json' }).refresh(update)).rejects.toThrow(/does not hold lease/);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a path that cannot be written is a UserError that names the file and never the secret', async () => {
    await writeFile(join(dir, 'blocker'), 'a file where a directory should be');
    const err = await sink({ path: 'blocker/creds.json', format: 'json' }).publish(cred(7)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/blocker\/creds\.json \(json\): cannot (read|write): E[A-Z]+$/);
    expect((err as Error).message).not.toContain(cred(7).secretAccessKey);
    expect(await readdir(dir)).toEqual(['blocker']);
  });
});
