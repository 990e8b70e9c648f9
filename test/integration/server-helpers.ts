/**
 * `credops server` as a real process for the server stories: started on a
 * free port of 127.0.0.1 (it logs where), stopped with SIGTERM, its JSON log
 * lines kept for assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { childEnv } from '../support/aws/index.js';
import { startLocalDynamo, type LocalDynamo } from '../support/dynamodb.js';
import { githubClaims, startIssuer, type Issuer } from '../support/oidc-issuer.js';
import { startLocalAws, tempState, type LocalAws, type TempState } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const ENTRY = `const { main } = await import(${JSON.stringify(join(ROOT, 'src/cli/main.ts'))}); process.exitCode = await main(['node', 'credops', ...process.argv.slice(1)]);`;

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  port: number;
  /** The JSON log lines so far. */
  events(): Record<string, unknown>[];
  stderr(): string;
  /** Resolves with the first log line of this event (and matching fields), waiting up to ms. */
  waitFor(event: string, match?: (e: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
  exited: Promise<number | null>;
}

export async function startServer(args: string[], env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', ENTRY, '--', 'server', '--listen', '127.0.0.1:0', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const lines: Record<string, unknown>[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    const complete = out.split('\n');
    out = complete.pop()!;
    for (const line of complete) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  const waitFor = async (event: string, match: (e: Record<string, unknown>) => boolean = () => true, ms = 30_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = lines.find((l) => l.event === event && match(l));
      if (found) return found;
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`no "${event}" from credops server (${child.exitCode !== null ? `it exited ${child.exitCode}` : 'timed out'}); stderr: ${err}; log: ${lines.map((l) => JSON.stringify(l)).join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const listening = await waitFor('server.listening');
  const port = Number(listening.port);
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    port,
    events: () => lines,
    stderr: () => err,
    waitFor,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
    exited,
  };
}

/** One Vault API call: status and JSON body (undefined when empty). */
export async function vault(url: string, method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<{ status: number; body: Record<string, unknown> | undefined }> {
  const res = await fetch(`${url}/v1/${path}`, {
    method,
    headers: { ...(opts.token && { 'X-Vault-Token': opts.token }), ...(opts.body !== undefined && { 'content-type': 'application/json' }) },
    ...(opts.body !== undefined && { body: JSON.stringify(opts.body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

export const S3 = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] };

/**
 * The world of a server story, fresh for each test: the local AWS endpoint,
 * a DynamoDB state (2 s lock TTL, so a killed replica's lock is soon free), an
 * OIDC issuer, and a secrets repo with roles dev-app, prod-app (iam_user) and
 * dev-fed (federation_token), the JWT auth method, auth role repo-a (GitHub
 * tokens of org/a) and ACL policy dev (aws/creds/dev-* read, prod-* denied).
 */
export function serverWorld() {
  const w = {
    aws: undefined as unknown as LocalAws,
    dynamo: undefined as unknown as LocalDynamo,
    issuer: undefined as unknown as Issuer,
    t: undefined as unknown as TempState,
    repo: '',
    servers: [] as ServerProcess[],
    write(path: string, content: unknown): void {
      mkdirSync(join(w.repo, path, '..'), { recursive: true });
      writeFileSync(join(w.repo, path), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    },
    env(extra: Record<string, string> = {}): Record<string, string> {
      return { ...childEnv(w.aws), CREDOPS_STATE: w.t.url, CREDOPS_AUDIT_LOG: w.t.auditPath, NO_COLOR: '1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...extra };
    },
    async server(args: string[] = [], extraEnv: Record<string, string> = {}): Promise<ServerProcess> {
      const s = await startServer(['--repo', w.repo, '--audit-file', join(w.t.dir, 'requests.log'), ...args], w.env(extraEnv));
      w.servers.push(s);
      return s;
    },
    /** A server that has applied the repo once. */
    async ready(args: string[] = []): Promise<ServerProcess> {
      const s = await w.server(args);
      await s.waitFor('reconcile.finished');
      return s;
    },
    login(s: ServerProcess, jwt: string, role = 'repo-a') {
      return vault(s.url, 'POST', 'auth/jwt/login', { body: { role, jwt } });
    },
    async tokenFor(s: ServerProcess, repository = 'org/a'): Promise<string> {
      const res = await w.login(s, await w.issuer.sign(githubClaims(repository)));
      if (res.status !== 200) throw new Error(`login failed: ${JSON.stringify(res.body)}`);
      return (res.body!.auth as { client_token: string }).client_token;
    },
  };
  beforeEach(async () => {
    w.aws = await startLocalAws();
    w.dynamo = await startLocalDynamo();
    w.issuer = await startIssuer();
    w.t = await tempState(`${await w.dynamo.newState()}&lock_ttl=2s`);
    w.repo = mkdtempSync(join(tmpdir(), 'credops-server-'));
    w.write('credops.yaml', 'version: 1\nmounts:\n  aws:\n    region: us-east-1\n');
    w.write('roles/dev-app.json', { credential_type: 'iam_user', policy_document: S3 });
    w.write('roles/prod-app.json', { credential_type: 'iam_user', policy_document: S3 });
    w.write('roles/dev-fed.json', { credential_type: 'federation_token', policy_document: S3 });
    w.write('auth/jwt/config.json', { oidc_discovery_url: w.issuer.url, bound_issuer: w.issuer.url });
    w.write('auth/jwt/roles/repo-a.json', {
      role_type: 'jwt',
      bound_audiences: ['credops'],
      bound_claims: { repository: 'org/a' },
      user_claim: 'repository',
      claim_mappings: { ref: 'ref' },
      token_policies: ['dev'],
      token_ttl: '10m',
      token_max_ttl: '1h',
    });
    w.write('acl/dev.hcl', 'path "aws/creds/dev-*" {\n  capabilities = ["read"]\n}\npath "aws/creds/prod-*" {\n  capabilities = ["deny"]\n}\n');
  });
  afterEach(async () => {
    await Promise.all(w.servers.splice(0).map((s) => s.stop()));
    await w.t.close();
    await w.issuer.close();
    await w.dynamo.close();
    await w.aws.close();
    rmSync(w.repo, { recursive: true, force: true });
  });
  return w;
}
