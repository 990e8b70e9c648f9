/**
 * npm run bench:bulk — the two bulk figures of issue #11, against the local
 * AWS endpoint with a per-call latency like IAM's from a CI runner:
 *
 * 1. `lease revoke --prefix` over BENCH_LEASES iam_user leases, at the default
 *    concurrency and at 1: the ratio (target ≥ 6×), each lease revoked once.
 * 2. A second reconcile of BENCH_SINKS roles and sinks already applied: AWS
 *    writes (target 0) and credops's own time without the refresh (target
 *    < 1 s), then the read calls the refresh makes, and why.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { REVOKE_CONCURRENCY } from '../src/engine/deps.js';
import { DRIFT_MIN_AGE_MS } from '../src/reconcile/drift.js';
import { reconcile } from '../src/reconcile/index.js';
import { applyRoles, engineFor, manualClock, role, S3_READ, startLocalAws, tempState } from '../test/integration/helpers.js';
import { model, sink } from '../test/reconcile/harness.js';

const LEASES = Number(process.env.BENCH_LEASES ?? 200);
const SINKS = Number(process.env.BENCH_SINKS ?? 1000);
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 50);
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const aws = await startLocalAws();
const t = await tempState();
const dir = mkdtempSync(join(tmpdir(), 'credops-bench-bulk-'));
try {
  // ---- 1. bulk revocation ----------------------------------------------------
  await applyRoles(t.state, [role('web', { credential_types: ['iam_user'], policy_document: S3_READ })]);
  const { engine } = engineFor(aws, t);
  const revokeAt = async (concurrency: number) => {
    aws.faults.clear();
    for (let i = 0; i < LEASES; i++) await engine.issue({ mount: 'aws', role: 'web', path: 'creds' });
    aws.faults.set({ latencyMs: LATENCY_MS });
    aws.resetCalls();
    const start = performance.now();
    const result = await engine.revokePrefix('aws/creds/web', { concurrency });
    const ms = performance.now() - start;
    const deletes = aws.calls.filter((c) => c.action === 'DeleteUser' && c.status === 200).length;
    if (result.revoked.length !== LEASES || result.failed.length || deletes !== LEASES) throw new Error(`revoked ${result.revoked.length}, failed ${result.failed.length}, DeleteUser ${deletes}`);
    return ms;
  };
  const serial = await revokeAt(1);
  const parallel = await revokeAt(REVOKE_CONCURRENCY);
  aws.faults.clear();
  console.log(`bench:bulk — node ${process.version}, ${LATENCY_MS} ms per AWS call`);
  console.log(`revoke --prefix, ${LEASES} iam_user leases (3 calls each): concurrency 1 ${(serial / 1000).toFixed(1)} s, default (${REVOKE_CONCURRENCY}) ${(parallel / 1000).toFixed(1)} s: ${(serial / parallel).toFixed(1)}× (target ≥ 6×) ${serial / parallel >= 6 ? 'ok' : 'OVER'}; each lease revoked exactly once`);

  // ---- 2. a no-change reconcile ---------------------------------------------
  const clock = manualClock(aws.clock.now());
  const world = engineFor(aws, t, { clock });
  const roles = Array.from({ length: SINKS }, (_, i) => role(`r${i}`, { credential_types: ['iam_user'], policy_document: S3_READ }));
  const sinks = Array.from({ length: SINKS }, (_, i) => ({ ...sink(`s${i}`, 'file', { path: `out/s${i}.json`, format: 'json' }, { verify: false }), role: `r${i}` }));
  const desired = model('c1', sinks, { roles });
  const deps = { state: t.state, engine: world.engine, clients: world.clients, sinks: { clients: world.clients, cwd: dir, home: dir, stateId: t.state.id }, clock, log: () => {} };
  await reconcile(deps, desired);
  const writes = () => aws.calls.filter((c) => !/^(Get|List|Describe)/.test(c.action)).length;
  aws.resetCalls();
  const start = performance.now();
  await reconcile(deps, desired, { refresh: false });
  const own = performance.now() - start;
  console.log(
    `second reconcile of ${SINKS} roles and ${SINKS} sinks, no refresh: ${writes()} AWS writes (target 0) ${writes() === 0 ? 'ok' : 'OVER'}, ` +
      `${(own / 1000).toFixed(2)} s (target < 1 s) ${own < 1000 ? 'ok' : 'OVER'}`,
  );
  // The refresh checks each iam_user lease older than the eventual-consistency window.
  aws.clock.advance(DRIFT_MIN_AGE_MS);
  clock.advance(DRIFT_MIN_AGE_MS);
  aws.resetCalls();
  const refreshStart = performance.now();
  await reconcile(deps, desired, { refresh: true });
  const refreshMs = performance.now() - refreshStart;
  const reads = aws.calls.filter((c) => /^(Get|List|Describe)/.test(c.action));
  const counts = new Map<string, number>();
  for (const c of reads) counts.set(c.action, (counts.get(c.action) ?? 0) + 1);
  const byAction = [...counts].map(([a, n]) => `${a} ${n}`).join(', ');
  console.log(`with the refresh: ${writes()} AWS writes, ${reads.length} read calls (${byAction}), ${(refreshMs / 1000).toFixed(1)} s`);
} finally {
  await t.close();
  await aws.close();
  rmSync(dir, { recursive: true, force: true });
}
