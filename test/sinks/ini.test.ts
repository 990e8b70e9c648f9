import { describe, expect, it } from 'vitest';
import { readIniProfile, removeIniProfile, setIniProfile } from '../../src/sinks/ini.js';

const MARKER = '# credops sink ci: lease aws/creds/deploy/1';
const keys = (id: string, token?: string): [string, string | undefined][] => [
  ['aws_access_key_id', id],
  ['aws_secret_access_key', `secret-${id}`],
  ['aws_session_token', token],
];

const userFile = [
  '# my credentials; keep this comment',
  '[default]',
  'aws_access_key_id = AKIAUSER',
  'aws_secret_access_key = usersecret ; inline',
  '',
  '; the production account',
  '[prod]',
  'aws_access_key_id=AKIAPROD',
  'region = eu-west-1',
  '',
].join('\n');

describe('the credentials file profile credops manages', () => {
  it('is appended after a blank line, leaving every earlier byte as it was', () => {
    const out = setIniProfile(userFile, 'ci', MARKER, keys('AKIA1'));
    expect(out.startsWith(userFile)).toBe(true);
    expect(out.slice(userFile.length)).toBe(`\n[ci]\n${MARKER}\naws_access_key_id = AKIA1\naws_secret_access_key = secret-AKIA1\n`);
  });

  it('is rewritten in place on rotation; the profiles before and after it are untouched', () => {
    const middle = `${userFile}\n[ci]\n${MARKER}\naws_access_key_id = OLD\naws_secret_access_key = old\naws_session_token = oldtoken\nregion = us-east-2\n\n# the last one\n[last]\nx = 1\n`;
    const out = setIniProfile(middle, 'ci', '# credops sink ci: lease 2', keys('AKIA2'));
    const before = middle.slice(0, middle.indexOf('[ci]'));
    const after = middle.slice(middle.indexOf('\n\n# the last one'));
    expect(out.startsWith(before)).toBe(true);
    expect(out.endsWith(after)).toBe(true);
    expect(readIniProfile(out, 'ci')).toEqual([
      '# credops sink ci: lease 2',
      'aws_access_key_id = AKIA2',
      'aws_secret_access_key = secret-AKIA2',
      'region = us-east-2',
    ]);
  });

  it('keeps CRLF line endings and a missing final newline', () => {
    const crlf = '[default]\r\nregion = x\r\n\r\n[ci]\r\n# credops sink ci: old\r\naws_access_key_id = OLD';
    const out = setIniProfile(crlf, 'ci', MARKER, keys('NEW', 'tok'));
    expect(out).toBe(`[default]\r\nregion = x\r\n\r\n[ci]\r\n${MARKER}\r\naws_access_key_id = NEW\r\naws_secret_access_key = secret-NEW\r\naws_session_token = tok`);
  });

  it('publish then remove gives the original file back', () => {
    for (const original of [userFile, userFile.trimEnd(), '', '[only]\na = 1']) {
      const published = setIniProfile(original, 'ci', MARKER, keys('AKIA1', 'tok'));
      const rotated = setIniProfile(published, 'ci', MARKER, keys('AKIA2'));
      const removed = removeIniProfile(rotated, 'ci');
      expect(removed.startsWith(original.endsWith('\n') || original === '' ? original : `${original}\n`)).toBe(true);
      expect(removed.replace(/\n$/, '')).toBe(original.replace(/\n$/, ''));
    }
  });

  it('removing a profile in the middle keeps the comments that introduce the next one', () => {
    const text = `[a]\nx = 1\n\n[ci]\n${MARKER}\naws_access_key_id = K\n\n; prod below\n[prod]\ny = 2\n`;
    expect(removeIniProfile(text, 'ci')).toBe('[a]\nx = 1\n\n\n; prod below\n[prod]\ny = 2\n');
  });

  it('matches the header exactly: [ci] is not [ci-2], and headers may carry spaces and comments', () => {
    const text = '[ci-2]\na = 1\n[ ci ] # ours\nb = 2\n';
    expect(readIniProfile(text, 'ci')).toEqual(['b = 2']);
    expect(readIniProfile(text, 'nope')).toBeUndefined();
  });
});
