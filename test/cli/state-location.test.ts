/**
 * Story: a team keeps `state:` and `audit_log:` in credops.yaml, relative to
 * the repo. Whatever directory a command runs from, it reaches the same state;
 * commands that only read never create one; a state file that is not credops's
 * is refused, not taken for a fresh state.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/runtime.js';

let dir: string;
let repo: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'credops-location-'));
  repo = join(dir, 'secrets');
  mkdirSync(join(repo, 'roles', 'team'), { recursive: true });
  writeFileSync(join(repo, 'credops.yaml'), 'version: 1\nstate: sqlite:state/credops.db\naudit_log: logs/audit.log\nmounts:\n  aws:\n    roles: "roles/**/*.json"\n');
  writeFileSync(join(repo, 'roles', 'team', 'deploy.json'), JSON.stringify({ credential_type: 'federation_token', policy_arns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] }));
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function credops(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}, stdin = '') {
  let stdout = '';
  let stderr = '';
  const io: Io = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), readStdin: async () => stdin, isTTY: false, env: { NO_COLOR: '1', ...env }, cwd };
  const code = await main(['node', 'credops', ...args], io);
  return { code, stdout, stderr };
}

describe("credops.yaml's state: and audit_log:", () => {
  it('are honoured, relative to the repo root, from any working directory', async () => {
    const applied = await credops(repo, ['reconcile', '--no-refresh']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(existsSync(join(repo, 'state', 'credops.db'))).toBe(true);
    expect(existsSync(join(repo, '.credops', 'state.db'))).toBe(false);

    // From the repo root, from a folder inside it, and from elsewhere with --repo: the same state, so no change.
    for (const [cwd, repoArgs] of [[repo, []], [join(repo, 'roles', 'team'), ['--repo', repo]], [dir, ['--repo', repo]]] as const) {
      const plan = await credops(cwd, ['plan', ...repoArgs, '--detailed-exitcode']);
      expect(plan.code, `${cwd}: ${plan.stdout}${plan.stderr}`).toBe(0);
      expect(plan.stdout).toContain('No changes.');
    }
    // A command that does not read the repo finds credops.yaml up from its directory.
    const status = await credops(join(repo, 'roles', 'team'), ['lease', 'list']);
    expect(status).toMatchObject({ code: 0, stderr: '' });

    const key = { CREDOPS_STATE_KEY: Buffer.alloc(32, 7).toString('base64') };
    const stored = await credops(join(repo, 'roles'), ['config', 'root', '--access-key', 'AKIAIOSFODNN7EXAMPLE'], key, 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n');
    expect(stored.code, stored.stderr).toBe(0);
    expect(readFileSync(join(repo, 'logs', 'audit.log'), 'utf8')).toContain('"operation":"config-root"');
    expect(existsSync(join(dir, '.credops'))).toBe(false);
    expect(existsSync(join(repo, 'roles', '.credops'))).toBe(false);
  });

  it('--state and CREDOPS_STATE still win, relative to the working directory', async () => {
    const r = await credops(dir, ['reconcile', '--repo', repo, '--no-refresh'], { CREDOPS_STATE: 'sqlite:elsewhere.db' });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(dir, 'elsewhere.db'))).toBe(true);
    expect(existsSync(join(repo, 'state', 'credops.db'))).toBe(false);
  });
});

describe('commands that only read', () => {
  it.each([['status'], ['lease', 'list'], ['lease', 'lookup', 'aws/creds/x/y'], ['config', 'root'], ['plan']])('%s in an empty directory creates nothing', async (...args) => {
    const empty = mkdtempSync(join(dir, 'empty-'));
    const r = await credops(empty, args);
    expect(r.stderr).toContain(`No state at ${join(empty, '.credops', 'state.db')} yet`);
    expect(existsSync(join(empty, '.credops'))).toBe(false);
  });
});

describe('a state file that is not credops', () => {
  it('refuses an empty file instead of taking it for a fresh state, and leaves it as it is', async () => {
    mkdirSync(join(repo, 'state'));
    writeFileSync(join(repo, 'state', 'credops.db'), '');
    for (const args of [['reconcile', '--no-refresh'], ['status'], ['lease', 'list']]) {
      const r = await credops(repo, args);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('is an empty file (0 bytes), not a credops state; nothing was changed. To start a new, empty state on purpose, move the file away');
    }
    expect(readFileSync(join(repo, 'state', 'credops.db'), 'utf8')).toBe('');
  });

  it('refuses a file that is not a SQLite database, or a database of something else', async () => {
    mkdirSync(join(repo, 'state'));
    writeFileSync(join(repo, 'state', 'credops.db'), 'hello');
    expect((await credops(repo, ['status'])).stderr).toContain('is not a SQLite database');
  });
});

describe('the machine refuses a write', () => {
  it('a full disk is an error naming the path, not a credops bug', async () => {
    const key = { CREDOPS_STATE_KEY: Buffer.alloc(32, 7).toString('base64'), CREDOPS_AUDIT_LOG: '/dev/full' };
    const r = await credops(repo, ['config', 'root', '--access-key', 'AKIAIOSFODNN7EXAMPLE'], key, 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Error: write /dev/full: no space left on the device (ENOSPC)\n');
  });
});

