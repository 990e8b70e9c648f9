import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { annotationPrefix, emitAnnotations, formatAnnotation } from '../../src/cli/annotations.js';
import type { Diagnostic } from '../../src/errors.js';
import type { Io } from '../../src/cli/runtime.js';

const badType: Diagnostic = {
  file: 'roles/x.json',
  line: 4,
  column: 22,
  pointer: '/credential_type',
  severity: 'error',
  message: 'must be one of iam_user, assumed_role, federation_token, session_token (found "iam-user")',
};

function fakeIo(env: NodeJS.ProcessEnv): Io & { err: string } {
  const io = {
    err: '',
    stdout: () => {},
    stderr: (s: string) => {
      io.err += s;
    },
    readStdin: async () => '',
    isTTY: false,
    env,
    cwd: '/work/ws',
  };
  return io;
}

describe('GitHub annotations of diagnostics', () => {
  it('marks the file, line and column of a validation error on the pull request', () => {
    expect(formatAnnotation(badType)).toBe(
      '::error file=roles/x.json,line=4,col=22,title=credops::/credential_type must be one of iam_user, assumed_role, ' +
        'federation_token, session_token (found "iam-user")',
    );
  });

  it('uses ::warning for warnings and does not repeat a pointer the message starts with', () => {
    const w: Diagnostic = { ...badType, severity: 'warning', pointer: '/max_sts_ttl', message: '/max_sts_ttl is above 12h' };
    expect(formatAnnotation(w)).toBe('::warning file=roles/x.json,line=4,col=22,title=credops::/max_sts_ttl is above 12h');
  });

  it("escapes GitHub's command characters so a message or path cannot end the command early", () => {
    const d: Diagnostic = {
      ...badType,
      file: 'roles/a,b:c%.json',
      pointer: '',
      message: '100% wrong\r\nsecond line: ok, really',
    };
    expect(formatAnnotation(d)).toBe(
      '::error file=roles/a%2Cb%3Ac%25.json,line=4,col=22,title=credops::100%25 wrong%0D%0Asecond line: ok, really',
    );
  });

  it('names files from the workflow checkout when the secrets repo is a subdirectory', () => {
    const env = { GITHUB_WORKSPACE: '/home/runner/work/acme/acme' };
    expect(annotationPrefix('/home/runner/work/acme/acme', env)).toBe('');
    expect(annotationPrefix('/home/runner/work/acme/acme/infra/secrets', env)).toBe('infra/secrets');
    expect(annotationPrefix('/home/runner/.credops/cache/repo', env)).toBe('');
    expect(annotationPrefix('/anything', {})).toBe('');
    expect(formatAnnotation(badType, 'infra/secrets')).toMatch(/^::error file=infra\/secrets\/roles\/x\.json,line=4,/);
  });

  it('prints annotations only inside GitHub Actions, on stderr', () => {
    const outside = fakeIo({});
    emitAnnotations(outside, [badType], '/work/ws/secrets');
    expect(outside.err).toBe('');

    const inside = fakeIo({ GITHUB_ACTIONS: 'true', GITHUB_WORKSPACE: '/work/ws' });
    emitAnnotations(inside, [badType, { ...badType, severity: 'warning', line: 9 }], join('/work/ws', 'secrets'));
    expect(inside.err.split('\n')).toEqual([
      expect.stringMatching(/^::error file=secrets\/roles\/x\.json,line=4,col=22,title=credops::/),
      expect.stringMatching(/^::warning file=secrets\/roles\/x\.json,line=9,col=22,title=credops::/),
      '',
    ]);

    const fromGit = fakeIo({ GITHUB_ACTIONS: 'true', GITHUB_WORKSPACE: '/work/ws' });
    emitAnnotations(fromGit, [badType], undefined);
    expect(fromGit.err).toMatch(/^::error file=roles\/x\.json,/);
  });
});
