import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/runtime.js';
import { openState } from '../../src/state/index.js';
import { formatDiagnostic, ValidationError } from '../../src/errors.js';
import { desiredFromSnapshot } from '../../src/load/index.js';
import type { RepoFile, RepoSnapshot } from '../../src/repo/index.js';
import { decodeUtf8 } from '../../src/repo/utf8.js';
import { seededRandom } from '../support/aws/clock.js';

// Seeded, so a failure can be replayed.
const prng = seededRandom;

const SEED = 20_240_611;
const ARN = 'arn:aws:iam::123456789012:role/deployer';
const BASE_ROLES: Record<string, unknown>[] = [
  { credential_type: 'iam_user', policy_document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: '*' }] }, iam_tags: { team: 'x' }, user_path: '/a/' },
  { credential_type: 'assumed_role', role_arns: [ARN], default_sts_ttl: '1h', max_sts_ttl: 7200, session_tags: ['a=b'], external_id: 'ext-id' },
  { credential_type: 'federation_token', policy_document: '{"Statement":{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}}', policy_arns: 'arn:aws:iam::aws:policy/ReadOnlyAccess' },
  { credential_type: 'session_token', default_sts_ttl: 900, mfa_serial_number: 'arn:aws:iam::123456789012:mfa/me', policy_arns: null, user_path: '' },
];
const FIELDS = ['credential_type', 'policy_document', 'policy_arns', 'iam_groups', 'role_arns', 'default_sts_ttl', 'max_sts_ttl', 'user_path', 'permissions_boundary_arn', 'iam_tags', 'session_tags', 'external_id', 'mfa_serial_number'];
// Each is invalid for every role field: no field takes booleans, fractions, this object or numbers in a list.
const WRONG_VALUES: unknown[] = [true, 42.5, { x: [1] }, [1, 2]];

type Corruption = { kind: string; bytes: Uint8Array };

function corrupt(rand: () => number): Corruption {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const base = pick(BASE_ROLES);
  const text = JSON.stringify(base, null, 2);
  const enc = new TextEncoder();
  switch (pick(['truncate', 'wrong-type', 'bad-utf8', 'huge'] as const)) {
    case 'truncate': {
      // Cut before the closing brace, anywhere (mid-token included).
      const at = Math.floor(rand() * (text.lastIndexOf('}') - 1));
      return { kind: 'truncate', bytes: enc.encode(text.slice(0, at)) };
    }
    case 'wrong-type': {
      const role = { ...base, [pick(FIELDS)]: pick(WRONG_VALUES) };
      return { kind: 'wrong-type', bytes: enc.encode(JSON.stringify(role, null, rand() < 0.5 ? 2 : 0)) };
    }
    case 'bad-utf8': {
      const bytes = enc.encode(text);
      const at = Math.floor(rand() * bytes.length);
      const bad = pick([[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82]]);
      return { kind: 'bad-utf8', bytes: new Uint8Array([...bytes.subarray(0, at), ...bad, ...bytes.subarray(at)]) };
    }
    case 'huge': {
      const field = pick(FIELDS);
      const huge = pick(['string', 'number', 'nesting'] as const);
      if (huge === 'nesting') return { kind: 'huge-nesting', bytes: enc.encode(text.replace('{', `{"${field}": ${'['.repeat(5000)}1${']'.repeat(5000)},`)) };
      const value = huge === 'string' ? 'x'.repeat(50_000 + Math.floor(rand() * 50_000)) : Infinity;
      const json = JSON.stringify({ ...base, [field]: '__HUGE__' }, null, 2).replace('"__HUGE__"', JSON.stringify(value) === 'null' ? '1e309' : JSON.stringify(value));
      return { kind: `huge-${huge}`, bytes: enc.encode(json) };
    }
  }
}

function toRepoFile(path: string, bytes: Uint8Array): RepoFile {
  const decoded = decodeUtf8(bytes);
  if ('text' in decoded) return { path, text: decoded.text };
  const { line, column } = decoded.error;
  return { path, text: '', problem: { line, column, message: 'file is not valid UTF-8 text' } };
}

describe('fuzz: 500 corrupted role files', () => {
  it('each gives a ValidationError with a file:line:col diagnostic on that file, never another exception', () => {
    const rand = prng(SEED);
    const kinds = new Map<string, number>();
    for (let i = 0; i < 500; i++) {
      const { kind, bytes } = corrupt(rand);
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      const path = `roles/fuzz-${i}.json`;
      const snapshot: RepoSnapshot = {
        source: 'fuzz',
        commit: 'dirty',
        root: '/nonexistent',
        files: [toRepoFile('roles/valid.json', new TextEncoder().encode('{"credential_type": "iam_user"}')), toRepoFile(path, bytes)],
      };
      let thrown: unknown;
      try {
        desiredFromSnapshot(snapshot);
      } catch (err) {
        thrown = err;
      }
      const context = `case ${i} (${kind}, seed ${SEED})`;
      expect(thrown, context).toBeInstanceOf(ValidationError);
      const errors = (thrown as ValidationError).diagnostics.filter((d) => d.severity === 'error');
      expect(errors.length, context).toBeGreaterThan(0);
      for (const d of errors) {
        expect(d.file, context).toBe(path);
        expect(formatDiagnostic(d), context).toMatch(/^roles\/fuzz-\d+\.json:[1-9]\d*:[1-9]\d*: error: \S/);
        expect(formatDiagnostic(d).length, context).toBeLessThan(400);
      }
    }
    // Every kind of corruption was exercised.
    expect([...kinds.keys()].sort()).toEqual(['bad-utf8', 'huge-nesting', 'huge-number', 'huge-string', 'truncate', 'wrong-type']);
  });
});

describe('fuzz through the CLI: 500 corrupted role files against an applied state', () => {
  it('each makes reconcile exit 1 with a clear message, no stack trace, and the state unchanged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credops-fuzz-'));
    const repo = join(dir, 'repo');
    mkdirSync(join(repo, 'roles'), { recursive: true });
    writeFileSync(join(repo, 'roles', 'valid.json'), JSON.stringify(BASE_ROLES[1]));
    const stateUrl = `sqlite:${join(dir, 'state.db')}`;
    let stderr = '';
    const io: Io = {
      stdout: () => {},
      stderr: (text) => (stderr += text),
      readStdin: async () => '',
      isTTY: false,
      // Unreachable AWS: were a corrupted repo ever to get as far as AWS, the run would fail differently.
      env: { CREDOPS_STATE: stateUrl, CREDOPS_AUDIT_LOG: join(dir, 'audit.log'), AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_REGION: 'us-east-1' },
      cwd: dir,
    };
    try {
      expect(await main(['node', 'credops', 'reconcile', '--repo', repo], io), stderr).toBe(0);
      const state = await openState(stateUrl);
      const applied = await state.getApplied();
      await state.close();
      expect(applied.roles.map((r) => r.name)).toEqual(['valid']);

      const rand = prng(SEED + 1);
      for (let i = 0; i < 500; i++) {
        const { kind, bytes } = corrupt(rand);
        const file = join(repo, 'roles', 'fuzz.json');
        writeFileSync(file, bytes);
        stderr = '';
        const code = await main(['node', 'credops', 'reconcile', '--repo', repo], io);
        const context = `case ${i} (${kind}, seed ${SEED + 1}): ${stderr.slice(0, 300)}`;
        expect(code, context).toBe(1);
        expect(stderr, context).toMatch(/^roles\/fuzz\.json:[1-9]\d*:[1-9]\d*: error: \S/m);
        expect(stderr, context).not.toMatch(/internal error|\n\s+at /);
      }
      const after = await openState(stateUrl);
      expect(await after.getApplied()).toEqual(applied);
      expect(await after.listLeases()).toEqual([]);
      await after.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
