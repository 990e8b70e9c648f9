/**
 * `npm run bench:server`: credops server (the built CLI, a real process) under
 * 16 concurrent clients, each with its own token, reading
 * `aws/creds/ROLE` of a federation_token role (an STS call, no IAM user) as
 * fast as the server answers. Requests per second and p50/p99 latency, without
 * caps and with the cap bookkeeping (a max_leases and a max_issue_rate on the
 * role and on the token: four conditional counter writes per issuance).
 *
 *   BENCH_SECONDS=10 BENCH_CLIENTS=16 BENCH_STATE=sqlite|dynamodb npm run bench:server
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { childEnv } from '../test/support/aws/index.js';
import { startLocalDynamo } from '../test/support/dynamodb.js';
import { githubClaims, startIssuer } from '../test/support/oidc-issuer.js';
import { startLocalAws } from '../test/integration/helpers.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const STATE = process.env.BENCH_STATE ?? 'sqlite';
const ROOT = resolve(import.meta.dirname, '..');
const POLICY = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] };
const UNLIMITED = { max_leases: 1_000_000, max_issue_rate: '1000000/m' };

async function main(): Promise<void> {
  const aws = await startLocalAws();
  const issuer = await startIssuer();
  const dynamo = STATE === 'dynamodb' ? await startLocalDynamo() : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'credops-bench-server-'));
  const write = (path: string, content: unknown) => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), typeof content === 'string' ? content : JSON.stringify(content));
  };
  write('credops.yaml', 'version: 1\nmounts:\n  aws:\n    region: us-east-1\n');
  write('roles/fed.json', { credential_type: 'federation_token', policy_document: POLICY });
  write('roles/fed-capped.json', { credential_type: 'federation_token', policy_document: POLICY, ...UNLIMITED });
  write('auth/jwt/config.json', { oidc_discovery_url: issuer.url, bound_issuer: issuer.url });
  write('auth/jwt/roles/bench.json', { bound_audiences: ['credops'], user_claim: 'repository', token_policies: ['bench'] });
  write('auth/jwt/roles/bench-capped.json', { bound_audiences: ['credops'], user_claim: 'repository', token_policies: ['bench'], ...UNLIMITED });
  write('acl/bench.hcl', 'path "aws/creds/fed*" { capabilities = ["read"] }\n');
  const stateUrl = dynamo ? await dynamo.newState() : `sqlite:${join(dir, 'state.db')}`;

  const child = spawn(process.execPath, [join(ROOT, 'bin/credops.js'), 'server', '--repo', dir, '--listen', '127.0.0.1:0', '--audit-file', join(dir, 'requests.log')], {
    env: { ...childEnv(aws), CREDOPS_STATE: stateUrl, CREDOPS_AUDIT_LOG: join(dir, 'audit.log') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise<number>((resolvePort, reject) => {
      let out = '';
      let port: number | undefined;
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        for (const line of out.split('\n')) {
          if (line.includes('"server.listening"')) port = JSON.parse(line).port as number;
          if (line.includes('"reconcile.finished"') && port) resolvePort(port);
        }
      });
      child.on('exit', (code) => reject(new Error(`credops server exited ${code}`)));
    });
    const url = `http://127.0.0.1:${port}`;
    console.log(`credops server, ${STATE} state, ${CLIENTS} concurrent clients, ${SECONDS}s per case, federation_token reads of aws/creds/ROLE\n`);
    console.log('case                    requests   req/s    p50 ms   p99 ms   errors');
    for (const [label, role, authRole] of [
      ['no caps', 'fed', 'bench'],
      ['with cap bookkeeping', 'fed-capped', 'bench-capped'],
    ] as const) {
      const tokens = await Promise.all(Array.from({ length: CLIENTS }, async (_, i) => login(url, authRole, await issuer.sign(githubClaims(`org/client-${i}`)))));
      // Warm up: connections, the JIT, the SDK's clients.
      await Promise.all(tokens.map((token) => read(url, role, token)));
      const latencies: number[] = [];
      let errors = 0;
      const until = performance.now() + SECONDS * 1000;
      const started = performance.now();
      await Promise.all(
        tokens.map(async (token) => {
          while (performance.now() < until) {
            const t0 = performance.now();
            if ((await read(url, role, token)) !== 200) errors++;
            latencies.push(performance.now() - t0);
          }
        }),
      );
      const elapsed = (performance.now() - started) / 1000;
      latencies.sort((a, b) => a - b);
      const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;
      console.log(
        `${label.padEnd(22)}  ${String(latencies.length).padStart(8)}  ${(latencies.length / elapsed).toFixed(0).padStart(6)}  ${pct(50).toFixed(1).padStart(8)}  ${pct(99).toFixed(1).padStart(7)}   ${errors}`,
      );
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
    await issuer.close();
    await dynamo?.close();
    await aws.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function login(url: string, role: string, jwt: string): Promise<string> {
  const res = await fetch(`${url}/v1/auth/jwt/login`, { method: 'POST', body: JSON.stringify({ role, jwt }) });
  const body = (await res.json()) as { auth?: { client_token: string }; errors?: string[] };
  if (!body.auth) throw new Error(`login failed: ${JSON.stringify(body)}`);
  return body.auth.client_token;
}

async function read(url: string, role: string, token: string): Promise<number> {
  const res = await fetch(`${url}/v1/aws/creds/${role}`, { headers: { 'X-Vault-Token': token } });
  await res.arrayBuffer();
  return res.status;
}

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
await main();
