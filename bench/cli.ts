/**
 * npm run bench:cli — whole credops processes, run as a user runs them, each
 * side by side with a yardstick (issue #11): `node -e 0` for start-up, and a
 * script that only reads and JSON.parses the same files for a large repo. Each
 * pair alternates, RUNS times; the medians and their ratio are printed with
 * the target. Needs `npm run build` (the bin runs dist/).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { localAwsEnv, startLocalAws } from '../test/support/aws/index.js';
import { generateRepo } from './repo.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const ROLES = Number(process.env.BENCH_ROLES ?? 10_000);
const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'credops.js');

/** Runs node ARGS; resolves to the wall time in ms. Asynchronous: the local AWS endpoint lives in this process. */
function run(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  const start = performance.now();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => {
      const ms = performance.now() - start;
      if (code !== 0 && code !== 2) fail(new Error(`node ${args.join(' ')} exited ${code}: ${stderr}`));
      else done(ms);
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Row {
  what: string;
  ms: number;
  yardstick: string;
  yardMs: number;
  maxRatio: number;
  maxMs?: number;
}

async function pair(what: string, args: string[], yardstick: string, yardArgs: string[], maxRatio: number, opts: { env: NodeJS.ProcessEnv; cwd: string; maxMs?: number }): Promise<Row> {
  const a: number[] = [];
  const b: number[] = [];
  await run(args, opts.env, opts.cwd); // warm the file cache
  for (let i = 0; i < RUNS; i++) {
    a.push(await run(args, opts.env, opts.cwd));
    b.push(await run(yardArgs, opts.env, opts.cwd));
  }
  return { what, ms: median(a), yardstick, yardMs: median(b), maxRatio, ...(opts.maxMs !== undefined && { maxMs: opts.maxMs }) };
}

const dir = mkdtempSync(join(tmpdir(), 'credops-bench-cli-'));
const aws = await startLocalAws();
try {
  const baseEnv = { ...process.env, ...localAwsEnv(aws), CREDOPS_STATE: `sqlite:${join(dir, 'state.db')}`, CREDOPS_AUDIT_LOG: join(dir, 'audit.log'), CREDOPS_CACHE_DIR: join(dir, 'cache'), XDG_CONFIG_HOME: join(dir, 'config'), NO_COLOR: '1' };

  // A repo with one federation_token role, applied, and one credential in the credential_process cache.
  const small = join(dir, 'small');
  mkdirSync(join(small, 'roles'), { recursive: true });
  writeFileSync(join(small, 'roles', 'deploy.json'), JSON.stringify({ credential_type: 'federation_token', policy_arns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] }));
  await run([BIN, 'reconcile', '--repo', small], baseEnv, dir);
  await run([BIN, 'credential-process', 'deploy'], baseEnv, dir);

  const large = join(dir, 'large');
  generateRepo(large, ROLES);
  const largeEnv = { ...baseEnv, CREDOPS_STATE: `sqlite:${join(dir, 'large.db')}` };
  await run([BIN, 'reconcile', '--repo', large, '--no-refresh'], largeEnv, dir);
  // The floor for a large repo: list, read and JSON.parse every file, nothing else.
  const floor = join(dir, 'floor.mjs');
  writeFileSync(
    floor,
    `import { readdirSync, readFileSync } from 'node:fs'; import { join } from 'node:path';
     const root = ${JSON.stringify(large)}; let n = 0;
     for (const d of ['roles', 'policies']) for (const f of readdirSync(join(root, d))) { JSON.parse(readFileSync(join(root, d, f), 'utf8')); n++; }`,
  );

  const rows: Row[] = [
    await pair('credops --version', [BIN, '--version'], 'node -e 0', ['-e', '0'], 2, { env: baseEnv, cwd: dir }),
    await pair('credops credential-process ROLE (cached)', [BIN, 'credential-process', 'deploy'], 'node -e 0', ['-e', '0'], 2, { env: baseEnv, cwd: dir }),
    await pair('credops validate --repo examples/basic', [BIN, 'validate', '--repo', join(ROOT, 'examples', 'basic')], 'node -e 0', ['-e', '0'], 3, { env: baseEnv, cwd: dir }),
    await pair(`credops validate (${ROLES} role files)`, [BIN, 'validate', '--repo', large], 'read+parse', [floor], 3, { env: largeEnv, cwd: dir }),
    await pair(`credops plan --detailed-exitcode (${ROLES} roles, no change)`, [BIN, 'plan', '--repo', large, '--detailed-exitcode'], 'read+parse', [floor], 3, { env: largeEnv, cwd: dir, maxMs: 1000 }),
  ];

  console.log(`bench:cli — medians of ${RUNS} runs each, node ${process.version}`);
  console.log('| what | credops | yardstick | ratio | target | |');
  console.log('|---|---|---|---|---|---|');
  let failed = 0;
  for (const r of rows) {
    const ratio = r.ms / r.yardMs;
    const ok = ratio <= r.maxRatio && (r.maxMs === undefined || r.ms < r.maxMs);
    if (!ok) failed++;
    const target = `≤ ${r.maxRatio}×${r.maxMs !== undefined ? ` and < ${r.maxMs / 1000} s` : ''}`;
    console.log(`| ${r.what} | ${(r.ms / 1000).toFixed(2)} s | ${r.yardstick} ${(r.yardMs / 1000).toFixed(2)} s | ${ratio.toFixed(1)}× | ${target} | ${ok ? 'ok' : 'OVER'} |`);
  }
  console.log(failed ? `${failed} figure(s) over target` : 'every figure within its target');
} finally {
  await aws.close();
  rmSync(dir, { recursive: true, force: true });
}
