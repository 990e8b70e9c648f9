/** IAM on the local endpoint behaves as AWS does for what credops creates and revokes. */
import {
  AddUserToGroupCommand,
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateGroupCommand,
  CreateLoginProfileCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  CreateVirtualMFADeviceCommand,
  DeactivateMFADeviceCommand,
  DeleteAccessKeyCommand,
  DeleteLoginProfileCommand,
  DeleteSigningCertificateCommand,
  DeleteSSHPublicKeyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  DetachUserPolicyCommand,
  EnableMFADeviceCommand,
  GetRoleCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListAttachedUserPoliciesCommand,
  ListGroupsForUserCommand,
  ListMFADevicesCommand,
  ListSigningCertificatesCommand,
  ListSSHPublicKeysCommand,
  ListUserPoliciesCommand,
  ListUsersCommand,
  ListUserTagsCommand,
  PutUserPolicyCommand,
  RemoveUserFromGroupCommand,
  TagUserCommand,
  UploadSigningCertificateCommand,
  UploadSSHPublicKeyCommand,
  paginateListUsers,
} from '@aws-sdk/client-iam';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localAwsClientConfig, startLocalAws, type LocalAws } from './index.js';

let aws: LocalAws;
let iam: IAMClient;
beforeEach(async () => {
  aws = await startLocalAws({ seed: 3 });
  // One attempt: the SDK takes IAM's LimitExceeded (class LimitExceededException) for throttling
  // and would retry it, which only slows these tests down.
  iam = new IAMClient({ ...localAwsClientConfig(aws), maxAttempts: 1 });
});
afterEach(async () => {
  iam.destroy();
  await aws.close();
});

/** `name` is AWS's wire error code (the SDK's `Code`; its class name can differ: NoSuchEntityException). */
async function failure(p: Promise<unknown>): Promise<{ name: string; status: number | undefined; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; Code?: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.Code ?? e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error('expected the call to fail');
}

const POLICY = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] });

describe('IAM users', () => {
  it('creates a user with path, boundary and tags, and refuses a second one of the same name', async () => {
    const created = await iam.send(
      new CreateUserCommand({
        UserName: 'vault-app-1',
        Path: '/credops/',
        PermissionsBoundary: 'arn:aws:iam::aws:policy/PowerUserAccess',
        Tags: [{ Key: 'credops:role', Value: 'app' }],
      }),
    );
    expect(created.User?.Arn).toBe(`arn:aws:iam::${aws.accountId}:user/credops/vault-app-1`);
    expect(created.User?.UserId).toMatch(/^AIDA/);
    expect(created.User?.CreateDate).toBeInstanceOf(Date);

    const got = await iam.send(new GetUserCommand({ UserName: 'vault-app-1' }));
    expect(got.User?.PermissionsBoundary?.PermissionsBoundaryArn).toBe('arn:aws:iam::aws:policy/PowerUserAccess');
    expect(got.User?.Tags).toEqual([{ Key: 'credops:role', Value: 'app' }]);
    expect(aws.iam.user('vault-app-1')).toMatchObject({ path: '/credops/', tags: [{ Key: 'credops:role', Value: 'app' }] });

    // IAM names are unique regardless of case.
    expect(await failure(iam.send(new CreateUserCommand({ UserName: 'VAULT-app-1' })))).toMatchObject({ name: 'EntityAlreadyExists', status: 409 });
    expect((await failure(iam.send(new CreateUserCommand({ UserName: 'u'.repeat(65) })))).name).toBe('ValidationError');
    expect((await failure(iam.send(new CreateUserCommand({ UserName: 'bad name' })))).name).toBe('ValidationError');
    expect((await failure(iam.send(new CreateUserCommand({ UserName: 'x', PermissionsBoundary: `arn:aws:iam::${aws.accountId}:policy/nope` })))).name).toBe('NoSuchEntity');
    expect(await failure(iam.send(new GetUserCommand({ UserName: 'nobody' })))).toMatchObject({ name: 'NoSuchEntity', status: 404 });
  });

  it('GetUser without a name answers for the caller', async () => {
    const me = await iam.send(new GetUserCommand({}));
    expect(me.User?.UserName).toBe(aws.root.userName);
  });

  it('tags a user and lists its tags', async () => {
    await iam.send(new CreateUserCommand({ UserName: 'tagged', Tags: [{ Key: 'a', Value: '1' }] }));
    await iam.send(new TagUserCommand({ UserName: 'tagged', Tags: [{ Key: 'a', Value: '2' }, { Key: 'b', Value: '3' }] }));
    const tags = await iam.send(new ListUserTagsCommand({ UserName: 'tagged' }));
    expect(tags.Tags).toEqual([{ Key: 'a', Value: '2' }, { Key: 'b', Value: '3' }]);
    expect(tags.IsTruncated).toBe(false);
  });

  it('keeps inline policies within 2048 non-whitespace characters and returns them URL-encoded', async () => {
    await iam.send(new CreateUserCommand({ UserName: 'p' }));
    await iam.send(new PutUserPolicyCommand({ UserName: 'p', PolicyName: 'read', PolicyDocument: POLICY }));
    const got = await iam.send(new GetUserPolicyCommand({ UserName: 'p', PolicyName: 'read' }));
    expect(decodeURIComponent(got.PolicyDocument ?? '')).toBe(POLICY);
    expect(got.PolicyDocument).not.toBe(POLICY);
    expect((await iam.send(new ListUserPoliciesCommand({ UserName: 'p' }))).PolicyNames).toEqual(['read']);

    expect(await failure(iam.send(new PutUserPolicyCommand({ UserName: 'p', PolicyName: 'bad', PolicyDocument: '{"Statement": [' })))).toMatchObject({ name: 'MalformedPolicyDocument' });
    const big = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::' + 'b'.repeat(2000) }] });
    // Whitespace does not count: the same document pretty-printed is no bigger.
    const medium = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::' + 'm'.repeat(1500) }] });
    const spaced = `${' '.repeat(1000)}${medium.replace(/,/g, `,\n${' '.repeat(100)}`)}\n`;
    expect(spaced.length).toBeGreaterThan(2048);
    await iam.send(new PutUserPolicyCommand({ UserName: 'p', PolicyName: 'spaced', PolicyDocument: spaced }));
    expect(await failure(iam.send(new PutUserPolicyCommand({ UserName: 'p', PolicyName: 'big', PolicyDocument: big })))).toMatchObject({ name: 'LimitExceeded', status: 409 });

    await iam.send(new DeleteUserPolicyCommand({ UserName: 'p', PolicyName: 'read' }));
    expect((await failure(iam.send(new GetUserPolicyCommand({ UserName: 'p', PolicyName: 'read' })))).name).toBe('NoSuchEntity');
    expect((await failure(iam.send(new DeleteUserPolicyCommand({ UserName: 'p', PolicyName: 'read' })))).name).toBe('NoSuchEntity');
  });

  it('attaches AWS-managed and existing customer policies only', async () => {
    await iam.send(new CreateUserCommand({ UserName: 'm' }));
    const created = await iam.send(new CreatePolicyCommand({ PolicyName: 'team', PolicyDocument: POLICY }));
    const arn = created.Policy?.Arn ?? '';
    expect(arn).toBe(`arn:aws:iam::${aws.accountId}:policy/team`);
    await iam.send(new AttachUserPolicyCommand({ UserName: 'm', PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }));
    await iam.send(new AttachUserPolicyCommand({ UserName: 'm', PolicyArn: arn }));
    const unknown = `arn:aws:iam::${aws.accountId}:policy/missing`;
    expect(await failure(iam.send(new AttachUserPolicyCommand({ UserName: 'm', PolicyArn: unknown })))).toMatchObject({ name: 'NoSuchEntity', status: 404 });
    const attached = await iam.send(new ListAttachedUserPoliciesCommand({ UserName: 'm' }));
    expect(attached.AttachedPolicies?.sort((a, b) => (a.PolicyName ?? '').localeCompare(b.PolicyName ?? ''))).toEqual([
      { PolicyName: 'ReadOnlyAccess', PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' },
      { PolicyName: 'team', PolicyArn: arn },
    ]);
    await iam.send(new DetachUserPolicyCommand({ UserName: 'm', PolicyArn: arn }));
    expect((await failure(iam.send(new DetachUserPolicyCommand({ UserName: 'm', PolicyArn: arn })))).name).toBe('NoSuchEntity');
    expect(aws.iam.user('m')?.attachedPolicies).toEqual(['arn:aws:iam::aws:policy/ReadOnlyAccess']);
  });

  it('allows two access keys per user', async () => {
    await iam.send(new CreateUserCommand({ UserName: 'k' }));
    const first = await iam.send(new CreateAccessKeyCommand({ UserName: 'k' }));
    await iam.send(new CreateAccessKeyCommand({ UserName: 'k' }));
    expect(await failure(iam.send(new CreateAccessKeyCommand({ UserName: 'k' })))).toMatchObject({ name: 'LimitExceeded', status: 409 });
    const listed = await iam.send(new ListAccessKeysCommand({ UserName: 'k' }));
    expect(listed.AccessKeyMetadata?.map((k) => k.Status)).toEqual(['Active', 'Active']);
    expect(listed.AccessKeyMetadata?.[0]?.AccessKeyId).toBe(first.AccessKey?.AccessKeyId);
    expect(JSON.stringify(listed)).not.toContain(first.AccessKey?.SecretAccessKey);
    const otherUsersKey = aws.root.accessKeyId;
    expect((await failure(iam.send(new DeleteAccessKeyCommand({ UserName: 'k', AccessKeyId: otherUsersKey })))).name).toBe('NoSuchEntity');
  });
});

describe('IAM DeleteUser', () => {
  it('refuses with DeleteConflict until everything attached to the user is gone', async () => {
    const name = 'busy';
    await iam.send(new CreateUserCommand({ UserName: name }));
    await iam.send(new CreateGroupCommand({ GroupName: 'devs' }));
    const key = await iam.send(new CreateAccessKeyCommand({ UserName: name }));
    await iam.send(new PutUserPolicyCommand({ UserName: name, PolicyName: 'inline', PolicyDocument: POLICY }));
    await iam.send(new AttachUserPolicyCommand({ UserName: name, PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }));
    await iam.send(new AddUserToGroupCommand({ UserName: name, GroupName: 'devs' }));
    await iam.send(new CreateLoginProfileCommand({ UserName: name, Password: 'Hunter2!Hunter2!' }));
    const mfa = await iam.send(new CreateVirtualMFADeviceCommand({ VirtualMFADeviceName: 'busy-mfa' }));
    const serial = mfa.VirtualMFADevice?.SerialNumber ?? '';
    await iam.send(new EnableMFADeviceCommand({ UserName: name, SerialNumber: serial, AuthenticationCode1: '123456', AuthenticationCode2: '654321' }));
    const ssh = await iam.send(new UploadSSHPublicKeyCommand({ UserName: name, SSHPublicKeyBody: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIexample user@host' }));
    const cert = await iam.send(new UploadSigningCertificateCommand({ UserName: name, CertificateBody: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----' }));

    expect(aws.iam.user(name)).toMatchObject({
      inlinePolicies: { inline: POLICY },
      groups: ['devs'],
      loginProfile: true,
      mfaDevices: [serial],
      sshPublicKeys: [ssh.SSHPublicKey?.SSHPublicKeyId],
      signingCertificates: [cert.Certificate?.CertificateId],
    });

    const removals: [string, () => Promise<unknown>][] = [
      ['login profile', () => iam.send(new DeleteLoginProfileCommand({ UserName: name }))],
      ['access keys', () => iam.send(new DeleteAccessKeyCommand({ UserName: name, AccessKeyId: key.AccessKey?.AccessKeyId }))],
      ['signing certificates', () => iam.send(new DeleteSigningCertificateCommand({ UserName: name, CertificateId: cert.Certificate?.CertificateId }))],
      ['SSH public keys', () => iam.send(new DeleteSSHPublicKeyCommand({ UserName: name, SSHPublicKeyId: ssh.SSHPublicKey?.SSHPublicKeyId }))],
      ['MFA device', () => iam.send(new DeactivateMFADeviceCommand({ UserName: name, SerialNumber: serial }))],
      ['policies', () => iam.send(new DeleteUserPolicyCommand({ UserName: name, PolicyName: 'inline' }))],
      ['detach all policies', () => iam.send(new DetachUserPolicyCommand({ UserName: name, PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }))],
      ['group', () => iam.send(new RemoveUserFromGroupCommand({ UserName: name, GroupName: 'devs' }))],
    ];
    for (const [what, remove] of removals) {
      const refused = await failure(iam.send(new DeleteUserCommand({ UserName: name })));
      expect(refused.name).toBe('DeleteConflict');
      expect(refused.status).toBe(409);
      expect(refused.message).toContain(what);
      await remove();
    }
    expect((await iam.send(new ListGroupsForUserCommand({ UserName: name }))).Groups).toEqual([]);
    expect((await iam.send(new ListMFADevicesCommand({ UserName: name }))).MFADevices).toEqual([]);
    expect((await iam.send(new ListSSHPublicKeysCommand({ UserName: name }))).SSHPublicKeys).toEqual([]);
    expect((await iam.send(new ListSigningCertificatesCommand({ UserName: name }))).Certificates).toEqual([]);

    await iam.send(new DeleteUserCommand({ UserName: name }));
    expect(aws.iam.user(name)).toBeUndefined();
    expect((await failure(iam.send(new DeleteUserCommand({ UserName: name })))).name).toBe('NoSuchEntity');
  });
});

describe('IAM pagination', () => {
  it('pages 250 users with Marker, IsTruncated and MaxItems, and filters by path', async () => {
    for (let i = 0; i < 250; i++) aws.iam.createUser(`user-${String(i).padStart(3, '0')}`, i % 2 === 0 ? '/even/' : '/odd/');
    const all = 251; // and credops-root

    const first = await iam.send(new ListUsersCommand({}));
    expect(first.Users).toHaveLength(100); // IAM's default MaxItems
    expect(first.IsTruncated).toBe(true);

    const seen: string[] = [];
    const pageSizes: number[] = [];
    let marker: string | undefined;
    do {
      const page = await iam.send(new ListUsersCommand({ MaxItems: 120, Marker: marker }));
      pageSizes.push(page.Users?.length ?? 0);
      seen.push(...(page.Users ?? []).map((u) => u.UserName ?? ''));
      marker = page.IsTruncated ? page.Marker : undefined;
      if (!page.IsTruncated) expect(page.Marker).toBeUndefined();
    } while (marker);
    expect(pageSizes).toEqual([120, 120, 11]);
    expect(new Set(seen).size).toBe(all);

    let viaPaginator = 0;
    for await (const page of paginateListUsers({ client: iam, pageSize: 50 }, { PathPrefix: '/even/' })) viaPaginator += page.Users?.length ?? 0;
    expect(viaPaginator).toBe(125);

    expect((await failure(iam.send(new ListUsersCommand({ MaxItems: 0 })))).name).toBe('ValidationError');
    expect((await failure(iam.send(new ListUsersCommand({ MaxItems: 1001 })))).name).toBe('ValidationError');
  });

  it('loses no user when the caller deletes what it listed while paging', async () => {
    for (let i = 0; i < 30; i++) aws.iam.createUser(`tmp-${String(i).padStart(2, '0')}`, '/tmp/');
    const deleted: string[] = [];
    let marker: string | undefined;
    do {
      const page = await iam.send(new ListUsersCommand({ PathPrefix: '/tmp/', MaxItems: 7, Marker: marker }));
      for (const u of page.Users ?? []) {
        await iam.send(new DeleteUserCommand({ UserName: u.UserName }));
        deleted.push(u.UserName ?? '');
      }
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    expect(deleted).toHaveLength(30);
    expect(aws.iam.users().filter((u) => u.path === '/tmp/')).toEqual([]);
  });
});

describe('IAM roles', () => {
  it('creates a role with its MaxSessionDuration and trust policy', async () => {
    const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }] });
    await iam.send(new CreateRoleCommand({ RoleName: 'deployer', AssumeRolePolicyDocument: trust, MaxSessionDuration: 7200 }));
    const role = await iam.send(new GetRoleCommand({ RoleName: 'deployer' }));
    expect(role.Role?.MaxSessionDuration).toBe(7200);
    expect(decodeURIComponent(role.Role?.AssumeRolePolicyDocument ?? '')).toBe(trust);
    expect(aws.iam.roles().map((r) => r.arn)).toEqual([`arn:aws:iam::${aws.accountId}:role/deployer`]);
    expect((await failure(iam.send(new CreateRoleCommand({ RoleName: 'r2', AssumeRolePolicyDocument: trust, MaxSessionDuration: 50_000 })))).name).toBe('ValidationError');
    expect((await failure(iam.send(new GetRoleCommand({ RoleName: 'nope' })))).name).toBe('NoSuchEntity');
  });
});
