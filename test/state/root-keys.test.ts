import { GetUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rootCredentials } from '../../src/engine/root.js';
import { readStoredRootKeys, ROOT_SETTING_KEY, writeStoredRootKeys } from '../../src/state/root-keys.js';
import { UserError } from '../../src/errors.js';
import { openState } from '../../src/state/index.js';
import type { StateStore } from '../../src/state/store.js';
import { startLocalAws } from '../support/aws/index.js';

const STATE_KEY = randomBytes(32).toString('base64');
const OTHER_KEY = randomBytes(32).toString('base64');
const KEYS = { accessKeyId: 'AKIAROOTEXAMPLE00001', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYROOTSECRET1' };
const NOW = new Date('2025-01-02T03:04:05Z');

let dir: string;
let state: StateStore;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'credops-root-creds-'));
  state = await openState(`sqlite:${join(dir, 'state.db')}`);
});

afterEach(async () => {
  await state.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Calls the provider the way the SDK does, and returns the error it rejects with. */
async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('root keys stored by `credops config root`', () => {
  it('come back from the provider exactly as stored, and the secret is nowhere in the state file', async () => {
    await writeStoredRootKeys(state, 'aws', KEYS, { CREDOPS_STATE_KEY: STATE_KEY }, NOW);

    const identity = await rootCredentials(state, { CREDOPS_STATE_KEY: STATE_KEY })('aws')();
    expect(identity).toMatchObject(KEYS);

    const raw = (await state.getSetting(ROOT_SETTING_KEY('aws')))!;
    expect(raw).toContain(KEYS.accessKeyId);
    expect(raw).not.toContain(KEYS.secretAccessKey);
    expect(await readStoredRootKeys(state, 'aws')).toMatchObject({ access_key_id: KEYS.accessKeyId, stored_at: NOW.toISOString() });

    // Every byte SQLite wrote (the database, its WAL and shared memory), after the store is closed.
    await state.close();
    const bytes = readdirSync(dir).map((f) => readFileSync(join(dir, f)).toString('latin1')).join('');
    expect(bytes).toContain(KEYS.accessKeyId);
    expect(bytes).not.toContain(KEYS.secretAccessKey);
    state = await openState(`sqlite:${join(dir, 'state.db')}`);
  });

  it('refuse a wrong CREDOPS_STATE_KEY with a message that says so and leaks nothing', async () => {
    await writeStoredRootKeys(state, 'aws', KEYS, { CREDOPS_STATE_KEY: STATE_KEY }, NOW);

    const err = await failure(rootCredentials(state, { CREDOPS_STATE_KEY: OTHER_KEY })('aws')());
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/mount "aws".*CREDOPS_STATE_KEY is not the key it was encrypted with/);
    expect(err.message).toContain('credops config root --mount aws');
    for (const secret of [KEYS.secretAccessKey, STATE_KEY, OTHER_KEY]) expect(err.message).not.toContain(secret);
  });

  it('need CREDOPS_STATE_KEY: without it the provider says which variable is missing', async () => {
    await writeStoredRootKeys(state, 'aws', KEYS, { CREDOPS_STATE_KEY: STATE_KEY }, NOW);

    const err = await failure(rootCredentials(state, { AWS_ACCESS_KEY_ID: 'AKIAENVIRONMENT00001', AWS_SECRET_ACCESS_KEY: 'x' })('aws')());
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/CREDOPS_STATE_KEY.*is not set/);
    await expect(writeStoredRootKeys(state, 'aws', KEYS, {}, NOW)).rejects.toThrow(/CREDOPS_STATE_KEY is not set/);
  });

  it('belong to their mount: a blob copied onto another mount does not decrypt', async () => {
    await writeStoredRootKeys(state, 'aws', KEYS, { CREDOPS_STATE_KEY: STATE_KEY }, NOW);
    await state.setSetting(ROOT_SETTING_KEY('aws-west'), (await state.getSetting(ROOT_SETTING_KEY('aws')))!);

    const err = await failure(rootCredentials(state, { CREDOPS_STATE_KEY: STATE_KEY })('aws-west')());
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toContain('mount "aws-west"');
  });
});

describe('without stored keys: the AWS SDK default chain', () => {
  it('takes the environment link from the env it was given, per mount', async () => {
    const env = { CREDOPS_STATE_KEY: STATE_KEY, AWS_ACCESS_KEY_ID: 'AKIAENVIRONMENT00001', AWS_SECRET_ACCESS_KEY: 'env-secret', AWS_SESSION_TOKEN: 'env-token' };
    await writeStoredRootKeys(state, 'aws', KEYS, env, NOW);

    expect(await rootCredentials(state, env)('aws')()).toMatchObject(KEYS);
    expect(await rootCredentials(state, env)('aws-west')()).toEqual({
      accessKeyId: 'AKIAENVIRONMENT00001',
      secretAccessKey: 'env-secret',
      sessionToken: 'env-token',
    });
  });
});

describe('a long-lived SDK client signing with the root provider', () => {
  it('signs each request with the key the state holds now, so a rotation elsewhere takes effect at once', async () => {
    const aws = await startLocalAws();
    const env = { CREDOPS_STATE_KEY: STATE_KEY };
    const iam = new IAMClient({ endpoint: aws.url, region: aws.region, credentials: rootCredentials(state, env)('aws'), maxAttempts: 1 });
    try {
      aws.iam.createUser('second-identity');
      const second = aws.iam.createAccessKey('second-identity');
      await writeStoredRootKeys(state, 'aws', aws.root, env, NOW);
      expect((await iam.send(new GetUserCommand({}))).User?.UserName).toBe(aws.root.userName);

      // What `config rotate-root` run by another process does to this state.
      await writeStoredRootKeys(state, 'aws', second, env, NOW);
      expect((await iam.send(new GetUserCommand({}))).User?.UserName).toBe('second-identity');
      expect(aws.calls.map((c) => c.accessKeyId)).toEqual([aws.root.accessKeyId, second.accessKeyId]);
    } finally {
      iam.destroy();
      await aws.close();
    }
  });
});
