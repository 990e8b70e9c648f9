import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { simpleGit, type SimpleGit } from 'simple-git';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { readRepo, redactUrl } from '../../src/repo/index.js';
import { validateSnapshot } from '../../src/load/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'credops-repo-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(root: string, files: Record<string, string | Buffer>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
}

async function gitRepo(root: string): Promise<SimpleGit> {
  mkdirSync(root, { recursive: true });
  const git = simpleGit(root);
  await git.init(['--initial-branch=main']);
  await git.addConfig('user.name', 'credops test');
  await git.addConfig('user.email', 'test@example.com');
  await git.addConfig('commit.gpgsign', 'false');
  return git;
}

async function commitAll(git: SimpleGit, message: string): Promise<string> {
  await git.add('.');
  await git.commit(message);
  return (await git.revparse(['HEAD'])).trim();
}

const ROLE = '{"credential_type": "iam_user"}\n';

describe('reading a directory', () => {
  it('reads the JSON and YAML files, sorted, skipping node_modules, .credops and hidden folders', async () => {
    write(dir, {
      'credops.yaml': 'version: 1\n',
      'roles/b.json': ROLE,
      'roles/a.json': ROLE,
      'sinks/s.yml': 'role: a\n',
      'README.md': '# not read',
      'node_modules/x/package.json': '{}',
      '.credops/state.json': '{}',
      '.github/workflows/ci.yaml': 'on: push\n',
    });
    const snapshot = await readRepo({ repo: dir });
    expect(snapshot.files.map((f) => f.path)).toEqual(['credops.yaml', 'roles/a.json', 'roles/b.json', 'sinks/s.yml']);
    expect(snapshot.files[1]).toEqual({ path: 'roles/a.json', text: ROLE });
    expect(snapshot).toMatchObject({ source: dir, root: dir, commit: 'dirty' });
  });

  it('resolves a relative repo against cwd', async () => {
    write(dir, { 'repo/roles/a.json': ROLE });
    const snapshot = await readRepo({ repo: 'repo', cwd: dir });
    expect(snapshot.root).toBe(join(dir, 'repo'));
    expect(snapshot.files.map((f) => f.path)).toEqual(['roles/a.json']);
  });

  it('turns bad UTF-8 into a diagnostic at the bad byte, not a crash', async () => {
    write(dir, { 'roles/bad.json': Buffer.concat([Buffer.from('{\n  "credential_type": "iam_'), Buffer.from([0xc3, 0x28]), Buffer.from('user"\n}\n')]) });
    const snapshot = await readRepo({ repo: dir });
    expect(snapshot.files[0]?.problem).toEqual({ line: 2, column: 27, message: 'file is not valid UTF-8 text (byte 0xc3 at offset 28); save it as UTF-8' });
    expect(validateSnapshot(snapshot).diagnostics).toEqual([
      { file: 'roles/bad.json', line: 2, column: 27, pointer: '', severity: 'error', message: 'file is not valid UTF-8 text (byte 0xc3 at offset 28); save it as UTF-8' },
    ]);
  });

  it('accepts valid multi-byte UTF-8 and a BOM', async () => {
    write(dir, { 'roles/a.json': '\uFEFF{"credential_type": "iam_user", "iam_tags": {"équipe": "données"}}' });
    const { model, diagnostics } = validateSnapshot(await readRepo({ repo: dir }));
    expect(diagnostics).toEqual([]);
    expect(model?.roles[0]?.iam_tags).toEqual({ équipe: 'données' });
  });

  it('refuses to load a huge file', async () => {
    write(dir, { 'roles/huge.json': `{"x": "${'a'.repeat(1024 * 1024)}"}` });
    const snapshot = await readRepo({ repo: dir });
    expect(snapshot.files[0]?.problem?.message).toMatch(/^file is 1048585 bytes; files of the secrets repo are limited to 1048576 bytes$/);
  });

  it('is a clear UserError for a missing directory or a --ref without a URL', async () => {
    await expect(readRepo({ repo: join(dir, 'nope') })).rejects.toThrow(UserError);
    await expect(readRepo({ repo: join(dir, 'nope') })).rejects.toThrow(/no such directory/);
    await expect(readRepo({ repo: dir, ref: 'main' })).rejects.toThrow(/--ref main needs a git URL/);
  });
});

describe('the commit of a directory', () => {
  it('is HEAD for a clean work tree and "dirty" once a read file differs', async () => {
    const git = await gitRepo(dir);
    write(dir, { 'roles/a.json': ROLE, '.gitignore': '*.log\nlocal/\n' });
    const sha = await commitAll(git, 'first');
    expect((await readRepo({ repo: dir })).commit).toBe(sha);

    write(dir, { 'debug.log': 'ignored and not read' });
    expect((await readRepo({ repo: dir })).commit).toBe(sha);

    write(dir, { 'roles/a.json': '{"credential_type": "assumed_role"}' });
    expect((await readRepo({ repo: dir })).commit).toBe('dirty');
    await git.checkout(['--', 'roles/a.json']);

    write(dir, { 'roles/new.json': ROLE });
    expect((await readRepo({ repo: dir })).commit).toBe('dirty');
    rmSync(join(dir, 'roles/new.json'));

    // An ignored file that credops reads is not in the commit either.
    write(dir, { 'local/x.json': '{}' });
    expect((await readRepo({ repo: dir })).commit).toBe('dirty');
  });

  it('looks only at the repo directory inside a larger work tree', async () => {
    const git = await gitRepo(dir);
    write(dir, { 'secrets/roles/a.json': ROLE, 'app/main.json': '{}' });
    const sha = await commitAll(git, 'first');
    write(dir, { 'app/main.json': '{"changed": true}' });
    expect((await readRepo({ repo: join(dir, 'secrets') })).commit).toBe(sha);
  });

  it('is "dirty" for a repo without commits', async () => {
    await gitRepo(dir);
    write(dir, { 'roles/a.json': ROLE });
    expect((await readRepo({ repo: dir })).commit).toBe('dirty');
  });
});

describe('reading a git URL at a ref', () => {
  it('checks out the exact commit of a tag, a branch, a SHA or the default HEAD, and reports it', async () => {
    const origin = join(dir, 'origin');
    const git = await gitRepo(origin);
    write(origin, { 'roles/a.json': ROLE });
    const first = await commitAll(git, 'first');
    await git.addTag('v1');
    write(origin, { 'roles/b.json': ROLE });
    const second = await commitAll(git, 'second');
    await git.checkoutLocalBranch('feature');
    write(origin, { 'roles/c.json': ROLE });
    const third = await commitAll(git, 'third');
    await git.checkout('main');

    const url = pathToFileURL(origin).href;
    const cacheDir = join(dir, 'cache');
    const at = async (ref?: string) => {
      const s = await readRepo({ repo: url, ref, cacheDir });
      return { commit: s.commit, files: s.files.map((f) => f.path), source: s.source };
    };
    expect(await at('v1')).toEqual({ commit: first, files: ['roles/a.json'], source: url });
    expect(await at('main')).toEqual({ commit: second, files: ['roles/a.json', 'roles/b.json'], source: url });
    expect(await at('feature')).toEqual({ commit: third, files: ['roles/a.json', 'roles/b.json', 'roles/c.json'], source: url });
    expect(await at(first)).toMatchObject({ commit: first, files: ['roles/a.json'] });
    expect(await at()).toMatchObject({ commit: second });

    // The cache is reused and brought up to date.
    write(origin, { 'roles/d.json': ROLE });
    const fourth = await commitAll(git, 'fourth');
    expect(await at('main')).toMatchObject({ commit: fourth, files: ['roles/a.json', 'roles/b.json', 'roles/d.json'] });

    await expect(readRepo({ repo: url, ref: 'no-such-branch', cacheDir })).rejects.toThrow(/ref "no-such-branch" was not found in file:\/\//);
  });

  it('is a clear UserError for an unreachable URL, without credentials in the message', async () => {
    const url = `file://user:s3cret@${join(dir, 'missing')}`;
    const err = await readRepo({ repo: url, cacheDir: join(dir, 'cache') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(String((err as Error).message)).toMatch(/^cannot read git repo file:\/\/\*\*\*@/);
    expect(String((err as Error).message)).not.toContain('s3cret');
  });

  it('redacts credentials from URLs', () => {
    expect(redactUrl('https://x-access-token:ghp_abc@github.com/o/r.git')).toBe('https://***@github.com/o/r.git');
    expect(redactUrl('git@github.com:o/r.git')).toBe('git@github.com:o/r.git');
  });
});
