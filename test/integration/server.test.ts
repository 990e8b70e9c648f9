/**
 * Stories of `credops server` (issue #13): the real server process on
 * 127.0.0.1, the local AWS endpoint, the DynamoDB test server, and an OIDC
 * issuer the test starts, spoken to over HTTP as Vault clients speak to Vault.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { childEnv } from '../support/aws/index.js';
import { startLocalDynamo, type LocalDynamo } from '../support/dynamodb.js';
import { githubClaims, startIssuer, type Issuer } from '../support/oidc-issuer.js';
import { callerIdentity, credopsUsers, rejectionCode, startLocalAws, tempState, type LocalAws, type TempState } from './helpers.js';
import { startServer, vault, type ServerProcess } from './server-helpers.js';

const S3 = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] };

let aws: LocalAws;
let dynamo: LocalDynamo;
let issuer: Issuer;
let t: TempState;
let repo: string;
const servers: ServerProcess[] = [];

function write(path: string, content: unknown): void {
  mkdirSync(join(repo, path, '..'), { recursive: true });
  writeFileSync(join(repo, path), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
}

beforeEach(async () => {
  aws = await startLocalAws();
  dynamo = await startLocalDynamo();
  issuer = await startIssuer();
  t = await tempState(`${await dynamo.newState()}&lock_ttl=2s`);
  repo = mkdtempSync(join(tmpdir(), 'credops-server-'));
  write('credops.yaml', 'version: 1\nmounts:\n  aws:\n    region: us-east-1\n');
  write('roles/dev-app.json', { credential_type: 'iam_user', policy_document: S3 });
  write('roles/prod-app.json', { credential_type: 'iam_user', policy_document: S3 });
  write('roles/dev-fed.json', { credential_type: 'federation_token', policy_document: S3 });
  write('auth/jwt/config.json', { oidc_discovery_url: issuer.url, bound_issuer: issuer.url });
  write('auth/jwt/roles/repo-a.json', {
    role_type: 'jwt',
    bound_audiences: ['credops'],
    bound_claims: { repository: 'org/a' },
    user_claim: 'repository',
    claim_mappings: { ref: 'ref' },
    token_policies: ['dev'],
    token_ttl: '10m',
    token_max_ttl: '1h',
  });
  write('acl/dev.hcl', 'path "aws/creds/dev-*" {\n  capabilities = ["read"]\n}\npath "aws/creds/prod-*" {\n  capabilities = ["deny"]\n}\n');
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
  await t.close();
  await issuer.close();
  await dynamo.close();
  await aws.close();
  rmSync(repo, { recursive: true, force: true });
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { ...childEnv(aws), CREDOPS_STATE: t.url, CREDOPS_AUDIT_LOG: t.auditPath, NO_COLOR: '1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...extra };
}

async function server(args: string[] = [], extraEnv: Record<string, string> = {}): Promise<ServerProcess> {
  const s = await startServer(['--repo', repo, '--audit-file', join(t.dir, 'requests.log'), ...args], env(extraEnv));
  servers.push(s);
  return s;
}

/** A server that has applied the repo once. */
async function ready(): Promise<ServerProcess> {
  const s = await server();
  await s.waitFor('reconcile.finished');
  return s;
}

async function login(s: ServerProcess, jwt: string, role = 'repo-a') {
  return vault(s.url, 'POST', 'auth/jwt/login', { body: { role, jwt } });
}

async function tokenFor(s: ServerProcess, repository = 'org/a'): Promise<string> {
  const res = await login(s, await issuer.sign(githubClaims(repository)));
  expect(res.status).toBe(200);
  return (res.body!.auth as { client_token: string }).client_token;
}

describe('credops server', () => {
  it('lets a GitHub token of repo A read aws/creds/dev-app and not aws/creds/prod-app, and refuses a bad token', async () => {
    const s = await ready();
    const token = await tokenFor(s);

    const dev = await vault(s.url, 'GET', 'aws/creds/dev-app', { token });
    expect(dev.status).toBe(200);
    expect(dev.body).toMatchObject({ renewable: true, data: { access_key: expect.stringMatching(/^AKIA/), secret_key: expect.any(String), security_token: null } });
    expect(dev.body!.lease_id).toMatch(/^aws\/creds\/dev-app\//);
    const data = dev.body!.data as { access_key: string; secret_key: string };
    const who = await callerIdentity(aws, { accessKeyId: data.access_key, secretAccessKey: data.secret_key });
    expect(who.Arn).toContain(':user/');
    // A lease never outlives the token that asked for it (token_ttl 10m).
    expect(dev.body!.lease_duration).toBeLessThanOrEqual(600);

    const usersBefore = credopsUsers(aws).length;
    const prod = await vault(s.url, 'GET', 'aws/creds/prod-app', { token });
    expect(prod).toEqual({ status: 403, body: { errors: ['permission denied'] } });
    expect(credopsUsers(aws)).toHaveLength(usersBefore);
    expect((await vault(s.url, 'GET', 'aws/creds/dev-app')).status).toBe(403);
    expect((await vault(s.url, 'GET', 'aws/creds/dev-app', { token: 'cos.not-a-token' })).body).toEqual({ errors: ['permission denied: invalid token'] });

    const refused = [
      await login(s, await issuer.sign(githubClaims('org/a'), { audience: 'someone-else' })),
      await login(s, await issuer.sign({ ...githubClaims('org/a'), iat: Math.floor(Date.now() / 1000) - 7200 }, { expiresIn: Math.floor(Date.now() / 1000) - 3600 })),
      await login(s, await issuer.sign(githubClaims('org/a'), { key: 'rogue' })),
      await login(s, await issuer.sign(githubClaims('org/b'))),
      await login(s, await issuer.sign(githubClaims('org/a'), { issuer: 'https://evil.example' })),
    ];
    expect(refused.map((r) => r.status)).toEqual([400, 400, 400, 400, 400]);
    expect(refused.map((r) => (r.body!.errors as string[])[0])).toEqual([
      expect.stringContaining('invalid audience'),
      expect.stringContaining('token is expired'),
      expect.stringContaining('failed to verify id token signature'),
      'claim "repository" does not match any associated bound claim values',
      expect.stringContaining('invalid issuer'),
    ]);
  });

  it('refetches the JWKS for a key id it does not know (a rotation), at most once per cooldown', async () => {
    const s = await server(['--audit-file', '-'], { CREDOPS_TEST_JWKS_COOLDOWN_MS: '1500' });
    await s.waitFor('reconcile.finished');
    await tokenFor(s);
    const fetched = issuer.jwksFetches();
    issuer.rotate();
    // Within the cooldown of the first fetch the new key is not looked for; after it, it is, once.
    expect((await login(s, await issuer.sign(githubClaims('org/a'), { key: 'next' }))).status).toBe(400);
    await new Promise((r) => setTimeout(r, 1600));
    const rotated = await login(s, await issuer.sign(githubClaims('org/a'), { key: 'next' }));
    expect(rotated.status).toBe(200);
    expect(issuer.jwksFetches()).toBe(fetched + 1);
    // Tokens naming unknown keys cannot make it fetch again within the cooldown.
    for (let i = 0; i < 5; i++) expect((await login(s, await issuer.sign(githubClaims('org/a'), { key: 'rogue' }))).status).toBe(400);
    expect(issuer.jwksFetches()).toBe(fetched + 1);
  });

  it('revokes the iam_user leases of a token revoked with revoke-self, in AWS too', async () => {
    const s = await ready();
    const token = await tokenFor(s);
    const creds = await Promise.all([1, 2].map(() => vault(s.url, 'GET', 'aws/creds/dev-app', { token })));
    expect(credopsUsers(aws)).toHaveLength(2);
    const lookup = await vault(s.url, 'GET', 'auth/token/lookup-self', { token });
    expect(lookup.body!.data).toMatchObject({ display_name: 'jwt-org/a', policies: ['dev'], meta: { role: 'repo-a', ref: 'refs/heads/main' }, renewable: true });

    expect((await vault(s.url, 'POST', 'auth/token/revoke-self', { token })).status).toBe(204);
    expect(credopsUsers(aws)).toEqual([]);
    for (const c of creds) {
      const data = c.body!.data as { access_key: string; secret_key: string };
      expect(await rejectionCode(callerIdentity(aws, { accessKeyId: data.access_key, secretAccessKey: data.secret_key }))).toBe('InvalidClientTokenId');
    }
    expect((await vault(s.url, 'GET', 'auth/token/lookup-self', { token })).status).toBe(403);
  });

  it('answers 429 past a cap, and creates no IAM user for it', async () => {
    write('roles/dev-app.json', { credential_type: 'iam_user', policy_document: S3, max_leases: 2 });
    const s = await ready();
    const token = await tokenFor(s);
    for (let i = 0; i < 2; i++) expect((await vault(s.url, 'GET', 'aws/creds/dev-app', { token })).status).toBe(200);
    const third = await vault(s.url, 'GET', 'aws/creds/dev-app', { token });
    expect(third.status).toBe(429);
    expect(third.body).toEqual({ errors: ['role aws/dev-app reached its max_leases of 2 live leases; revoke one or wait for one to expire'] });
    expect(credopsUsers(aws)).toHaveLength(2);

    // A revoked lease gives its place back.
    const leases = await vault(s.url, 'GET', 'sys/leases/lookup/aws/creds/dev-app?list=true', { token });
    expect(leases.status).toBe(403);
    const list = await t.state.listLeases({ prefix: 'aws/creds/dev-app/' });
    expect((await vault(s.url, 'PUT', 'sys/leases/revoke', { token, body: { lease_id: list[0]!.leaseId } })).status).toBe(204);
    expect((await vault(s.url, 'GET', 'aws/creds/dev-app', { token })).status).toBe(200);

    const audit = readFileSync(join(t.dir, 'requests.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(audit.filter((a) => a.outcome === 'rate_limited')).toEqual([
      expect.objectContaining({ request: expect.objectContaining({ path: 'aws/creds/dev-app', operation: 'read' }), response: { status: 429 }, error: expect.stringContaining('max_leases') }),
    ]);
  });

  it('answers 429 past a token max_issue_rate', async () => {
    write('auth/jwt/roles/repo-a.json', { bound_audiences: ['credops'], user_claim: 'repository', token_policies: ['dev'], max_issue_rate: '2/h' });
    const s = await ready();
    const token = await tokenFor(s);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await vault(s.url, 'GET', 'aws/creds/dev-fed', { token })).status);
    expect(statuses).toEqual([200, 200, 429]);
  });

  it('records every request in the audit log, with the accessor and identity and never a secret', async () => {
    const s = await ready();
    const jwt = await issuer.sign(githubClaims('org/a'));
    const loggedIn = await login(s, jwt);
    const token = (loggedIn.body!.auth as { client_token: string; accessor: string }).client_token;
    const accessor = (loggedIn.body!.auth as { accessor: string }).accessor;
    const cred = await vault(s.url, 'GET', 'aws/creds/dev-app', { token });
    await vault(s.url, 'GET', 'aws/creds/prod-app', { token });
    await vault(s.url, 'PUT', 'sys/leases/renew', { token, body: { lease_id: cred.body!.lease_id, increment: 300 } });
    await s.stop();

    const text = readFileSync(join(t.dir, 'requests.log'), 'utf8');
    const entries = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.map((e) => [(e.request as { path: string }).path, (e.response as { status: number }).status, e.outcome])).toEqual([
      ['auth/jwt/login', 200, 'ok'],
      ['aws/creds/dev-app', 200, 'ok'],
      ['aws/creds/prod-app', 403, 'denied'],
      ['sys/leases/renew', 200, 'ok'],
    ]);
    expect(entries[1]).toMatchObject({
      type: 'response',
      auth: { accessor, auth_role: 'jwt/repo-a', identity: 'org/a', policies: ['dev'] },
      response: { lease_id: cred.body!.lease_id, access_key_id: (cred.body!.data as { access_key: string }).access_key },
    });
    for (const secret of [token, jwt, (cred.body!.data as { secret_key: string }).secret_key]) expect(text).not.toContain(secret);
    expect(readFileSync(t.auditPath, 'utf8')).not.toContain(token);
  });
});
