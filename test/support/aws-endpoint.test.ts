/**
 * The local AWS endpoint, used as credops's tests use it: real SDK clients, real SigV4.
 * The story that matters most: a key that was revoked stops working.
 */
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { promisify } from 'node:util';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  GetAccessKeyLastUsedCommand,
  IAMClient,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { childEnv, localAwsClientConfig, localAwsEnv, startLocalAws, type LocalAws } from './aws/index.js';

let aws: LocalAws;
beforeEach(async () => {
  aws = await startLocalAws({ seed: 7 });
});
afterEach(async () => {
  await aws.close();
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; Code?: string };
    return e.Code ?? e.name;
  }
  throw new Error('expected the call to fail');
}

describe('local AWS endpoint: authentication', () => {
  it('a new user key works until it is deactivated or deleted', async () => {
    const iam = new IAMClient(localAwsClientConfig(aws));
    await iam.send(new CreateUserCommand({ UserName: 'alice' }));
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: 'alice' }));
    const key = { accessKeyId: AccessKey?.AccessKeyId ?? '', secretAccessKey: AccessKey?.SecretAccessKey ?? '' };
    expect(key.accessKeyId).toMatch(/^AKIA[A-Z2-7]{16}$/);
    const asAlice = new STSClient(localAwsClientConfig(aws, key));

    const me = await asAlice.send(new GetCallerIdentityCommand({}));
    expect(me.Arn).toBe(`arn:aws:iam::${aws.accountId}:user/alice`);
    expect(me.Account).toBe(aws.accountId);
    const lastUsed = await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: key.accessKeyId }));
    expect(lastUsed.UserName).toBe('alice');
    expect(lastUsed.AccessKeyLastUsed?.ServiceName).toBe('sts');

    await iam.send(new UpdateAccessKeyCommand({ UserName: 'alice', AccessKeyId: key.accessKeyId, Status: 'Inactive' }));
    expect(await codeOf(asAlice.send(new GetCallerIdentityCommand({})))).toBe('InvalidClientTokenId');
    expect(aws.iam.accessKey(key.accessKeyId)?.status).toBe('Inactive');
    await iam.send(new UpdateAccessKeyCommand({ UserName: 'alice', AccessKeyId: key.accessKeyId, Status: 'Active' }));
    await asAlice.send(new GetCallerIdentityCommand({}));

    await iam.send(new DeleteAccessKeyCommand({ UserName: 'alice', AccessKeyId: key.accessKeyId }));
    expect(await codeOf(asAlice.send(new GetCallerIdentityCommand({})))).toBe('InvalidClientTokenId');
    expect(aws.iam.accessKey(key.accessKeyId)).toBeUndefined();
    const refused = aws.calls.filter((c) => c.accessKeyId === key.accessKeyId && c.status === 403);
    expect(refused.map((c) => c.code)).toEqual(['InvalidClientTokenId', 'InvalidClientTokenId']);
    expect(aws.calls.filter((c) => c.action === 'DeleteAccessKey')).toEqual([
      { service: 'iam', action: 'DeleteAccessKey', accessKeyId: aws.root.accessKeyId, status: 200, resource: key.accessKeyId },
    ]);
  });

  it('refuses a wrong secret, an unknown key and an unsigned request', async () => {
    const wrongSecret = new STSClient(localAwsClientConfig(aws, { accessKeyId: aws.root.accessKeyId, secretAccessKey: 'x'.repeat(40) }));
    expect(await codeOf(wrongSecret.send(new GetCallerIdentityCommand({})))).toBe('SignatureDoesNotMatch');
    const unknown = new STSClient(localAwsClientConfig(aws, { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: aws.root.secretAccessKey }));
    expect(await codeOf(unknown.send(new GetCallerIdentityCommand({})))).toBe('InvalidClientTokenId');

    const res = await fetch(aws.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=GetCallerIdentity&Version=2011-06-15',
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('<Code>MissingAuthenticationToken</Code>');
  });

  it('binds the signature to the body: a replayed request with another body is refused', async () => {
    // Capture one request exactly as the SDK signs it, then replay it against the endpoint.
    const captured = await captureSignedRequest((endpoint) =>
      new IAMClient({ ...localAwsClientConfig(aws), endpoint, maxAttempts: 1 }).send(new CreateUserCommand({ UserName: 'bob' })),
    );
    const tampered = captured.body.replace('UserName=bob', 'UserName=eve');
    expect(tampered).not.toBe(captured.body);
    const refusedAnswer = await replay(aws.url, captured.headers, tampered);
    expect(refusedAnswer.status).toBe(403);
    expect(refusedAnswer.body).toContain('<Code>SignatureDoesNotMatch</Code>');
    expect(aws.iam.user('eve')).toBeUndefined();

    const accepted = await replay(aws.url, captured.headers, captured.body);
    expect(accepted.status).toBe(200);
    expect(accepted.body).toContain('<UserName>bob</UserName>');
    expect(aws.iam.user('bob')?.arn).toBe(`arn:aws:iam::${aws.accountId}:user/bob`);
  });

  it('gives a child process the environment to reach it through the default credential chain', async () => {
    const env = localAwsEnv(aws);
    expect(env).toMatchObject({ AWS_ENDPOINT_URL: aws.url, AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' });
    expect(env).not.toHaveProperty('AWS_PROFILE');
    const script = `
      import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
      const me = await new STSClient({}).send(new GetCallerIdentityCommand({}));
      process.stdout.write(me.Arn);`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: process.cwd(),
      env: childEnv(aws, undefined, { ...process.env, AWS_PROFILE: 'someone-elses' }),
    });
    expect(stdout).toBe(`arn:aws:iam::${aws.accountId}:user/${aws.root.userName}`);
  });
});

interface Captured {
  headers: Record<string, string>;
  body: string;
}

async function captureSignedRequest(send: (endpoint: string) => Promise<unknown>): Promise<Captured> {
  const { createServer } = await import('node:http');
  let captured: Captured | undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      captured = { headers, body: Buffer.concat(chunks).toString('utf8') };
      res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await send(`http://127.0.0.1:${port}`).catch(() => undefined);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!captured) throw new Error('no request captured');
  return captured;
}

function replay(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
