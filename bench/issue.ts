/**
 * `npm run bench:issue`: per credential type, how many issue+revoke cycles a
 * second credops completes against the local AWS endpoint, and how many AWS
 * calls one issuance and one revocation make (from the endpoint's call log).
 * The state is a real SQLite file (synchronous=FULL), as in production.
 *
 *   BENCH_N=100 npm run bench:issue
 */
import { REVOKE_CONCURRENCY } from '../src/engine/index.js';
import type { RoleSpec } from '../src/model/types.js';
import { applyRoles, engineFor, role, S3_READ, startLocalAws, tempState } from '../test/integration/helpers.js';

const N = Number(process.env.BENCH_N ?? 50);
// The SDK's notice that later versions need Node 22 is not what this table is about.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

interface Row {
  case: string;
  cyclesPerSecond: number;
  issuePerSecond: number;
  revokePerSecond: number;
  callsPerIssue: number;
  callsPerRevoke: number;
  issueCalls: string;
  revokeCalls: string;
}

async function main(): Promise<void> {
  const aws = await startLocalAws();
  const t = await tempState();
  try {
    aws.iam.createGroup('developers');
    const readOnly = aws.iam.createManagedPolicy('ReadOnly').arn;
    const deployer = aws.iam.createRole('deployer').arn;
    const roles: [string, RoleSpec][] = [
      ['iam_user (key only)', role('bare', { credential_types: ['iam_user'] })],
      [
        'iam_user (policy, 1 ARN, 1 group)',
        role('full', { credential_types: ['iam_user'], policy_document: S3_READ, policy_arns: [readOnly], iam_groups: ['developers'] }),
      ],
      ['assumed_role', role('assume', { credential_types: ['assumed_role'], role_arns: [deployer], policy_document: S3_READ })],
      ['federation_token', role('fed', { credential_types: ['federation_token'], policy_document: S3_READ })],
      ['session_token', role('session', { credential_types: ['session_token'] })],
    ];
    await applyRoles(
      t.state,
      roles.map(([, r]) => r),
    );
    const { engine } = engineFor(aws, t);
    // Warm up: SDK clients, credentials and connections are built on first use.
    const warm = await engine.issue({ mount: 'aws', role: 'bare', path: 'creds' });
    await engine.revoke(warm.lease.leaseId);

    const rows: Row[] = [];
    for (const [label, spec] of roles) {
      const path = spec.credential_types[0] === 'iam_user' ? 'creds' : 'sts';
      aws.resetCalls();
      const start = performance.now();
      for (let i = 0; i < N; i++) await engine.issue({ mount: 'aws', role: spec.name, path });
      const issued = performance.now();
      const issueCalls = aws.calls.length;
      const issueActions = summarise(aws.calls.map((c) => c.action));
      aws.resetCalls();
      const revoked = await engine.revokePrefix(`aws/${path}/${spec.name}`);
      const end = performance.now();
      if (revoked.failed.length || revoked.revoked.length !== N) throw new Error(`${label}: ${revoked.failed.length} revocations failed`);
      rows.push({
        case: label,
        cyclesPerSecond: N / ((end - start) / 1000),
        issuePerSecond: N / ((issued - start) / 1000),
        revokePerSecond: N / ((end - issued) / 1000),
        callsPerIssue: issueCalls / N,
        callsPerRevoke: aws.calls.length / N,
        issueCalls: issueActions,
        revokeCalls: summarise(aws.calls.map((c) => c.action)) || '(none)',
      });
    }
    print(rows);
  } finally {
    await t.close();
    await aws.close();
  }
}

/** "CreateUser, CreateAccessKey" in call order, each action once. */
function summarise(actions: string[]): string {
  return [...new Set(actions)].join(', ');
}

function print(rows: Row[]): void {
  const header = ['credential type', 'cycles/s', 'issue/s', 'revoke/s', 'calls/issue', 'calls/revoke', 'AWS calls per issuance', 'per revocation'];
  const body = rows.map((r) => [
    r.case,
    r.cyclesPerSecond.toFixed(1),
    r.issuePerSecond.toFixed(1),
    r.revokePerSecond.toFixed(1),
    r.callsPerIssue.toFixed(1),
    r.callsPerRevoke.toFixed(1),
    r.issueCalls,
    r.revokeCalls,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i >= 6 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  console.log(`credops issue/revoke benchmark: ${N} cycles per type, local AWS endpoint, revocation concurrency ${REVOKE_CONCURRENCY}`);
  console.log('(a cycle = one issuance and its revocation; revocations run through revokePrefix)\n');
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of body) console.log(line(row));
}

await main();
