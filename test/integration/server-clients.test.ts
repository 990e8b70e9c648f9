/**
 * Vault's own clients, used unchanged against credops server (issue #13):
 * hvac (Debian's python3-hvac, as .ci/run installs it) and node-vault (npm),
 * each logging in with a GitHub-style JWT, reading credentials, renewing, and
 * revoking by lease and by prefix, as their documentation shows.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { beforeEach, describe, expect, it } from 'vitest';
import { githubClaims } from '../support/oidc-issuer.js';
import { callerIdentity, credopsUsers, rejectionCode } from './helpers.js';
import { serverWorld } from './server-helpers.js';

const run = promisify(execFile);
/** Debian's python3, where python3-hvac installs (not a pyenv's). */
const PYTHON = '/usr/bin/python3';
const HVAC_STORY = new URL('../fixtures/vault-clients/hvac_story.py', import.meta.url).pathname;

const w = serverWorld();

interface Secret {
  lease_id: string;
  lease_duration: number;
  renewable: boolean;
  data: { access_key: string; secret_key: string; security_token: string | null };
}

// Both clients' token may use the sts path of dev roles and revoke dev-app leases by prefix
// (after serverWorld's beforeEach, which wrote the rest of the repo).
beforeEach(() => {
  w.write('acl/dev.hcl', 'path "aws/creds/dev-*" { capabilities = ["read"] }\npath "aws/sts/dev-*" { capabilities = ["update"] }\n');
  w.write('acl/ops.hcl', 'path "sys/leases/revoke-prefix/aws/creds/dev-app" {\n  capabilities = ["update", "sudo"]\n}\n');
  w.write('auth/jwt/roles/repo-a.json', { bound_audiences: ['credops'], bound_claims: { repository: 'org/a' }, user_claim: 'repository', token_policies: ['dev', 'ops'] });
  w.write('auth/kubernetes/config.json', { kubernetes_host: 'https://kubernetes.default.svc', issuer: w.issuer.url });
  w.write('auth/kubernetes/roles/billing.json', { bound_service_account_names: ['billing'], bound_service_account_namespaces: ['apps'], audience: 'credops', token_policies: ['dev'] });
});

async function works(secret: Secret): Promise<string> {
  const who = await callerIdentity(w.aws, { accessKeyId: secret.data.access_key, secretAccessKey: secret.data.secret_key, ...(secret.data.security_token ? { sessionToken: secret.data.security_token } : {}) });
  return who.Arn!;
}

describe('Vault clients, unchanged', () => {
  it('hvac logs in with the JWT, reads creds and sts, renews, and revokes by lease and by prefix', async () => {
    const s = await w.ready();
    const env = { ...process.env, VAULT_ADDR: s.url, JWT: await w.issuer.sign(githubClaims('org/a')) };
    const issued = JSON.parse((await run(PYTHON, [HVAC_STORY, 'issue'], { env })).stdout) as { token: string; creds: Secret[]; sts: Secret };
    expect(issued.creds.map((c) => c.lease_id)).toEqual([expect.stringMatching(/^aws\/creds\/dev-app\//), expect.stringMatching(/^aws\/creds\/dev-app\//)]);
    for (const c of issued.creds) expect(await works(c)).toContain(':user/');
    expect(issued.sts.data.security_token).toEqual(expect.any(String));
    expect(await works(issued.sts)).toContain(':federated-user/');
    expect(credopsUsers(w.aws)).toHaveLength(2);

    const leases = issued.creds.map((c) => c.lease_id);
    const finished = JSON.parse((await run(PYTHON, [HVAC_STORY, 'finish'], { env: { ...env, VAULT_TOKEN: issued.token, LEASES: JSON.stringify(leases) } })).stdout) as {
      renewed: { lease_id: string; lease_duration: number; renewable: boolean };
      ttl: number;
      gone: boolean;
    };
    expect(finished.renewed).toMatchObject({ lease_id: leases[0], lease_duration: 120, renewable: true });
    expect(finished.ttl).toBeLessThanOrEqual(120);
    expect(finished.gone).toBe(true);
    expect(credopsUsers(w.aws)).toEqual([]);
    for (const c of issued.creds) expect(await rejectionCode(works(c))).toBe('InvalidClientTokenId');

    // A pod: hvac's Kubernetes login with its projected service account token.
    const serviceAccount = { sub: 'system:serviceaccount:apps:billing', 'kubernetes.io': { namespace: 'apps', serviceaccount: { name: 'billing', uid: 'u1' } } };
    const pod = JSON.parse((await run(PYTHON, [HVAC_STORY, 'kubernetes'], { env: { ...env, JWT: await w.issuer.sign(serviceAccount) } })).stdout) as { creds: Secret; policies: string[] };
    expect(pod.policies).toEqual(['dev']);
    expect(await works(pod.creds)).toContain(':user/');
  });

  it('node-vault logs in with the JWT, reads creds, renews, and revokes by lease and by prefix', async () => {
    const s = await w.ready();
    const require = createRequire(import.meta.url);
    const nodeVault = require('node-vault') as (opts: { apiVersion: string; endpoint: string }) => NodeVaultClient;
    const client = nodeVault({ apiVersion: 'v1', endpoint: s.url });
    const login = await client.jwtLogin({ role: 'repo-a', jwt: await w.issuer.sign(githubClaims('org/a')) });
    expect(login.auth.policies).toEqual(['dev', 'ops']);
    const first = await client.read('aws/creds/dev-app');
    const second = await client.read('aws/creds/dev-app');
    for (const c of [first, second]) expect(await works(c)).toContain(':user/');

    const renewed = await client.renew({ lease_id: first.lease_id, increment: 300 });
    expect(renewed).toMatchObject({ lease_id: first.lease_id, lease_duration: 300, renewable: true });
    await client.revoke({ lease_id: first.lease_id });
    expect(await rejectionCode(works(first))).toBe('InvalidClientTokenId');
    expect(await works(second)).toContain(':user/');
    await client.revokePrefix({ path_prefix: 'aws/creds/dev-app' });
    expect(await rejectionCode(works(second))).toBe('InvalidClientTokenId');
    expect(credopsUsers(w.aws)).toEqual([]);

    const self = await client.tokenLookupSelf();
    expect(self.data).toMatchObject({ policies: ['dev', 'ops'], display_name: 'jwt-org/a', renewable: true });
    await client.tokenRevokeSelf();
    await expect(client.read('aws/creds/dev-app')).rejects.toThrow(/permission denied/);
  });
});

interface NodeVaultClient {
  jwtLogin(args: { role: string; jwt: string }): Promise<{ auth: { client_token: string; policies: string[] } }>;
  read(path: string): Promise<Secret>;
  renew(args: { lease_id: string; increment: number }): Promise<{ lease_id: string; lease_duration: number; renewable: boolean }>;
  revoke(args: { lease_id: string }): Promise<unknown>;
  revokePrefix(args: { path_prefix: string }): Promise<unknown>;
  tokenLookupSelf(): Promise<{ data: Record<string, unknown> }>;
  tokenRevokeSelf(): Promise<unknown>;
}
