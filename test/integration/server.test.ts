/**
 * Stories of `credops server` (issue #13): the real server process on
 * 127.0.0.1, the local AWS endpoint, the DynamoDB test server, and an OIDC
 * issuer the test starts, spoken to over HTTP as Vault clients speak to Vault.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { githubClaims } from '../support/oidc-issuer.js';
import { callerIdentity, credopsUsers, rejectionCode } from './helpers.js';
import { S3, serverWorld, vault } from './server-helpers.js';

const w = serverWorld();
const { write, server, ready, login, tokenFor } = w;

describe('credops server', () => {
  it('lets a GitHub token of repo A read aws/creds/dev-app and not aws/creds/prod-app, and refuses a bad token', async () => {
    const s = await ready();
    const token = await tokenFor(s);

    const dev = await vault(s.url, 'GET', 'aws/creds/dev-app', { token });
    expect(dev.status).toBe(200);
    expect(dev.body).toMatchObject({ renewable: true, data: { access_key: expect.stringMatching(/^AKIA/), secret_key: expect.any(String), security_token: null } });
    expect(dev.body!.lease_id).toMatch(/^aws\/creds\/dev-app\//);
    const data = dev.body!.data as { access_key: string; secret_key: string };
    const who = await callerIdentity(w.aws, { accessKeyId: data.access_key, secretAccessKey: data.secret_key });
    expect(who.Arn).toContain(':user/');
    // A lease never outlives the token that asked for it (token_ttl 10m).
    expect(dev.body!.lease_duration).toBeLessThanOrEqual(600);

    const usersBefore = credopsUsers(w.aws).length;
    const prod = await vault(s.url, 'GET', 'aws/creds/prod-app', { token });
    expect(prod).toEqual({ status: 403, body: { errors: ['permission denied'] } });
    expect(credopsUsers(w.aws)).toHaveLength(usersBefore);
    expect((await vault(s.url, 'GET', 'aws/creds/dev-app')).status).toBe(403);
    expect((await vault(s.url, 'GET', 'aws/creds/dev-app', { token: 'cos.not-a-token' })).body).toEqual({ errors: ['permission denied: invalid token'] });

    const refused = [
      await login(s, await w.issuer.sign(githubClaims('org/a'), { audience: 'someone-else' })),
      await login(s, await w.issuer.sign({ ...githubClaims('org/a'), iat: Math.floor(Date.now() / 1000) - 7200 }, { expiresIn: Math.floor(Date.now() / 1000) - 3600 })),
      await login(s, await w.issuer.sign(githubClaims('org/a'), { key: 'rogue' })),
      await login(s, await w.issuer.sign(githubClaims('org/b'))),
      await login(s, await w.issuer.sign(githubClaims('org/a'), { issuer: 'https://evil.example' })),
      await login(s, await w.issuer.sign({ ...githubClaims('org/a'), nbf: Math.floor(Date.now() / 1000) + 600 })),
      await login(s, await w.issuer.sign({ ...githubClaims('org/a'), iat: Math.floor(Date.now() / 1000) + 600 })),
    ];
    // Within the 60 s leeway a clock a little ahead is fine.
    expect((await login(s, await w.issuer.sign({ ...githubClaims('org/a'), nbf: Math.floor(Date.now() / 1000) + 30 }))).status).toBe(200);
    expect(refused.map((r) => r.status)).toEqual([400, 400, 400, 400, 400, 400, 400]);
    expect(refused.map((r) => (r.body!.errors as string[])[0])).toEqual([
      expect.stringContaining('invalid audience'),
      expect.stringContaining('token is expired'),
      expect.stringContaining('failed to verify id token signature'),
      'claim "repository" does not match any associated bound claim values',
      expect.stringContaining('invalid issuer'),
      expect.stringContaining('token is not valid yet (nbf)'),
      expect.stringContaining('token issued in the future (iat)'),
    ]);
  });

  it("lets a Kubernetes pod's service account token log in at auth/kubernetes/login, as Vault names it", async () => {
    w.write('auth/kubernetes/config.json', { kubernetes_host: 'https://kubernetes.default.svc', issuer: w.issuer.url });
    w.write('auth/kubernetes/roles/billing.json', { bound_service_account_names: ['billing'], bound_service_account_namespaces: ['apps'], audience: 'credops', token_policies: ['dev'], alias_name_source: 'serviceaccount_name' });
    const s = await ready();
    const serviceAccount = (namespace: string, name: string) => ({ sub: `system:serviceaccount:${namespace}:${name}`, 'kubernetes.io': { namespace, serviceaccount: { name, uid: 'a1b2' }, pod: { name: `${name}-7d9`, uid: 'p1' } } });
    const ok = await vault(s.url, 'POST', 'auth/kubernetes/login', { body: { role: 'billing', jwt: await w.issuer.sign(serviceAccount('apps', 'billing')) } });
    expect(ok.status).toBe(200);
    expect(ok.body!.auth).toMatchObject({ policies: ['dev'], metadata: { role: 'billing', service_account_name: 'billing', service_account_namespace: 'apps', service_account_uid: 'a1b2' } });
    const token = (ok.body!.auth as { client_token: string }).client_token;
    expect((await vault(s.url, 'GET', 'aws/creds/dev-app', { token })).status).toBe(200);
    expect((await vault(s.url, 'GET', 'auth/token/lookup-self', { token })).body!.data).toMatchObject({ display_name: 'kubernetes-apps-billing', path: 'auth/kubernetes/login' });

    const other = await vault(s.url, 'POST', 'auth/kubernetes/login', { body: { role: 'billing', jwt: await w.issuer.sign(serviceAccount('default', 'billing')) } });
    expect(other).toEqual({ status: 400, body: { errors: ['namespace not authorized'] } });
    const wrongAudience = await vault(s.url, 'POST', 'auth/kubernetes/login', { body: { role: 'billing', jwt: await w.issuer.sign(serviceAccount('apps', 'billing'), { audience: 'https://kubernetes.default.svc' }) } });
    expect(wrongAudience.status).toBe(400);
  });

  it('serves a static role\'s current key at aws/static-creds/NAME to a token its policy allows', async () => {
    w.aws.iam.createUser('vendor-bot');
    w.write('static-roles/vendor.json', { username: 'vendor-bot', rotation_period: '24h' });
    w.write('acl/dev.hcl', 'path "aws/creds/dev-*" { capabilities = ["read"] }\npath "aws/static-creds/vendor" { capabilities = ["read"] }\n');
    const s = await server([], { CREDOPS_STATE_KEY: 'a-passphrase-of-the-test-state' });
    await s.waitFor('reconcile.finished');
    const token = await tokenFor(s);
    const res = await vault(s.url, 'GET', 'aws/static-creds/vendor', { token });
    expect(res.status).toBe(200);
    const data = res.body!.data as { access_key: string; secret_key: string; expiration: string };
    expect(Date.parse(data.expiration)).toBeGreaterThan(Date.now() + 23 * 3600_000);
    expect((await callerIdentity(w.aws, { accessKeyId: data.access_key, secretAccessKey: data.secret_key })).Arn).toContain(':user/vendor-bot');
    expect((await vault(s.url, 'GET', 'aws/static-creds/other', { token })).status).toBe(403);
  });

  it("caps a lease renewed by another token at its own token's expiry", async () => {
    write('auth/jwt/roles/ops.json', { bound_audiences: ['credops'], bound_claims: { repository: 'org/ops' }, user_claim: 'repository', token_policies: ['ops'], token_ttl: '1h' });
    write('acl/ops.hcl', 'path "sys/leases/renew" { capabilities = ["update"] }\n');
    const s = await ready();
    const token = await tokenFor(s);
    const ops = (await login(s, await w.issuer.sign(githubClaims('org/ops')), 'ops')).body!.auth as { client_token: string };
    const cred = await vault(s.url, 'GET', 'aws/creds/dev-app', { token });
    const renewed = await vault(s.url, 'PUT', 'sys/leases/renew', { token: ops.client_token, body: { lease_id: cred.body!.lease_id, increment: '1h' } });
    expect(renewed.status).toBe(200);
    // repo-a's tokens live 10 minutes: the lease cannot pass that, whoever renews it.
    expect(renewed.body!.lease_duration).toBeLessThanOrEqual(600);
    // Once the owner's token is revoked, nobody renews its leases (they were revoked with it).
    await vault(s.url, 'POST', 'auth/token/revoke-self', { token });
    expect((await vault(s.url, 'PUT', 'sys/leases/renew', { token: ops.client_token, body: { lease_id: cred.body!.lease_id } })).body).toEqual({ errors: ['invalid lease'] });
  });

  it("answers bad requests with Vault's error shape and keeps serving", async () => {
    const s = await ready();
    const token = await tokenFor(s);
    const raw = async (method: string, path: string, body?: string) => {
      const res = await fetch(`${s.url}${path}`, { method, headers: { 'X-Vault-Token': token }, ...(body !== undefined && { body }) });
      return { status: res.status, body: (await res.text()) || undefined };
    };
    expect(await raw('GET', '/v1/aws/creds/%E0%A4%A')).toEqual({ status: 400, body: '{"errors":["the request path is not valid percent-encoding"]}' });
    expect((await raw('GET', '/v1/no/such/thing')).status).toBe(404);
    expect(await raw('POST', '/v1/auth/jwt/login', '{"role": ')).toEqual({ status: 400, body: '{"errors":["failed to parse JSON input: invalid character in request body"]}' });
    expect((await raw('DELETE', '/v1/aws/creds/dev-app')).status).toBe(405);
    expect((await raw('GET', '/v1/aws/creds/dev-app?ttl=soon')).body).toContain('ttl: ');
    expect((await raw('GET', '/v1/aws/creds/no-such-role')).status).toBe(403);
    expect((await vault(s.url, 'GET', 'sys/health')).status).toBe(200);
  });

  it('refetches the JWKS for a key id it does not know (a rotation), at most once per cooldown', async () => {
    const s = await server(['--audit-file', '-'], { CREDOPS_TEST_JWKS_COOLDOWN_MS: '1500' });
    await s.waitFor('reconcile.finished');
    await tokenFor(s);
    const fetched = w.issuer.jwksFetches();
    w.issuer.rotate();
    // Within the cooldown of the first fetch the new key is not looked for; after it, it is, once.
    expect((await login(s, await w.issuer.sign(githubClaims('org/a'), { key: 'next' }))).status).toBe(400);
    await new Promise((r) => setTimeout(r, 1600));
    const rotated = await login(s, await w.issuer.sign(githubClaims('org/a'), { key: 'next' }));
    expect(rotated.status).toBe(200);
    expect(w.issuer.jwksFetches()).toBe(fetched + 1);
    // Tokens naming unknown keys cannot make it fetch again within the cooldown.
    for (let i = 0; i < 5; i++) expect((await login(s, await w.issuer.sign(githubClaims('org/a'), { key: 'rogue' }))).status).toBe(400);
    expect(w.issuer.jwksFetches()).toBe(fetched + 1);
  });

  it('revokes the iam_user leases of a token revoked with revoke-self, in AWS too', async () => {
    write('acl/dev.hcl', 'path "aws/creds/dev-*" { capabilities = ["read"] }\npath "sys/leases/lookup/aws/*" { capabilities = ["list", "sudo"] }\n');
    const s = await ready();
    const token = await tokenFor(s);
    const creds = await Promise.all([1, 2].map(() => vault(s.url, 'GET', 'aws/creds/dev-app', { token })));
    expect(credopsUsers(w.aws)).toHaveLength(2);
    // LIST sys/leases/lookup/PREFIX, as Vault's own client sends it (GET ?list=true): one level down.
    expect((await vault(s.url, 'GET', 'sys/leases/lookup/aws/creds/?list=true', { token })).body!.data).toEqual({ keys: ['dev-app/'] });
    const ids = creds.map((c) => String(c.body!.lease_id).split('/').pop()).sort();
    expect((await vault(s.url, 'GET', 'sys/leases/lookup/aws/creds/dev-app/?list=true', { token })).body!.data).toEqual({ keys: ids });
    expect((await vault(s.url, 'GET', 'sys/leases/lookup/aws/creds/?list=true', { token: await tokenFor(s, 'org/a') })).status).toBe(200);
    const lookup = await vault(s.url, 'GET', 'auth/token/lookup-self', { token });
    expect(lookup.body!.data).toMatchObject({ display_name: 'jwt-org/a', policies: ['dev'], meta: { role: 'repo-a', ref: 'refs/heads/main' }, renewable: true });

    expect((await vault(s.url, 'POST', 'auth/token/revoke-self', { token })).status).toBe(204);
    expect(credopsUsers(w.aws)).toEqual([]);
    for (const c of creds) {
      const data = c.body!.data as { access_key: string; secret_key: string };
      expect(await rejectionCode(callerIdentity(w.aws, { accessKeyId: data.access_key, secretAccessKey: data.secret_key }))).toBe('InvalidClientTokenId');
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
    expect(credopsUsers(w.aws)).toHaveLength(2);

    // A revoked lease gives its place back.
    const leases = await vault(s.url, 'GET', 'sys/leases/lookup/aws/creds/dev-app?list=true', { token });
    expect(leases.status).toBe(403);
    const list = await w.t.state.listLeases({ prefix: 'aws/creds/dev-app/' });
    expect((await vault(s.url, 'PUT', 'sys/leases/revoke', { token, body: { lease_id: list[0]!.leaseId } })).status).toBe(204);
    expect((await vault(s.url, 'GET', 'aws/creds/dev-app', { token })).status).toBe(200);

    const audit = readFileSync(join(w.t.dir, 'requests.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
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
    const jwt = await w.issuer.sign(githubClaims('org/a'));
    const loggedIn = await login(s, jwt);
    const token = (loggedIn.body!.auth as { client_token: string; accessor: string }).client_token;
    const accessor = (loggedIn.body!.auth as { accessor: string }).accessor;
    const cred = await vault(s.url, 'GET', 'aws/creds/dev-app', { token });
    await vault(s.url, 'GET', 'aws/creds/prod-app', { token });
    await vault(s.url, 'PUT', 'sys/leases/renew', { token, body: { lease_id: cred.body!.lease_id, increment: 300 } });
    // Probes are not audited (Vault neither).
    expect((await vault(s.url, 'GET', 'sys/health')).status).toBe(200);
    await s.stop();

    const text = readFileSync(join(w.t.dir, 'requests.log'), 'utf8');
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
    // The engine's own audit line of the issuance names the token that asked, by its accessor.
    const issued = readFileSync(w.t.auditPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { operation: string; details?: Record<string, unknown> });
    expect(issued.find((e) => e.operation === 'issue')!.details).toMatchObject({ token_accessor: accessor, credential_type: 'iam_user' });
    expect(readFileSync(w.t.auditPath, 'utf8')).not.toContain(token);
  });
});
