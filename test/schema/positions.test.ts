import { describe, expect, it } from 'vitest';
import { parseJsonSource } from '../../src/schema/json-source.js';
import { parseYamlSource } from '../../src/schema/yaml-source.js';
import { validate } from './helpers.js';

/** Line and column of the first occurrence of `needle` in `text`, 1-based. */
function locate(text: string, needle: string): string {
  const offset = text.indexOf(needle);
  if (offset < 0) throw new Error(`${needle} not in text`);
  const before = text.slice(0, offset).split('\n');
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

describe('errors point at the offending value', () => {
  it('JSON: the example from the issue', () => {
    const text = '{\n  "policy_document": "",\n  "role_arns": null,\n  "credential_type": "iam-user"\n}\n';
    expect(validate({ 'roles/ec2.json': text }).errors).toEqual([
      'roles/ec2.json:4:22: error: /credential_type must be one of iam_user, assumed_role, federation_token, session_token (found "iam-user")',
    ]);
  });

  it('JSON: nested values, array items, and keys for unknown fields', () => {
    const text = [
      '{',
      '\t"credential_type": "iam_user",',
      '  "policy_document": {',
      '    "Statement": [',
      '      {"Effect": "Allow", "Action": ["s3:GetObject", "GetObject"], "Resource": "*"}',
      '    ]',
      '  },',
      '    "usr_path": "/x/"',
      '}',
    ].join('\n');
    const { errors } = validate({ 'roles/r.json': text });
    expect(errors).toEqual([
      `roles/r.json:${locate(text, '"GetObject"')}: error: /policy_document/Statement/0/Action/1 must be "*" or "service:Action" (wildcards * and ? allowed), like "s3:GetObject" (found "GetObject")`,
      `roles/r.json:${locate(text, '"usr_path"')}: error: /usr_path unknown field "usr_path" (did you mean "user_path"?)`,
    ]);
    expect(locate(text, '"usr_path"')).toBe('8:5');
  });

  it('JSON: syntax errors at the exact character', () => {
    const cases: [string, string][] = [
      ['{\n  "credential_type": "iam_user",\n}', 'roles/r.json:3:1: error: invalid JSON: trailing comma is not allowed in JSON'],
      ['{\n  "credential_type": "iam_user"\n  "role_arns": []\n}', 'roles/r.json:3:3: error: invalid JSON: expected "," or "}" after the value of "credential_type", found """'],
      ['{"role_arns": ["a",]}', 'roles/r.json:1:20: error: invalid JSON: trailing comma is not allowed in JSON'],
      ['{"credential_type": "iam_user', 'roles/r.json:1:21: error: invalid JSON: unterminated string'],
      ['{\n  // comment\n}', 'roles/r.json:2:3: error: invalid JSON: comments are not allowed in JSON'],
      ["{'credential_type': 1}", 'roles/r.json:1:2: error: invalid JSON: expected a "quoted" key, found "\'"'],
      ['', 'roles/r.json:1:1: error: invalid JSON: the file is empty; expected a JSON object'],
      ['{"a": 1} {"b": 2}', 'roles/r.json:1:10: error: invalid JSON: unexpected "{" after the end of the JSON value'],
      ['{"default_sts_ttl": 01}', 'roles/r.json:1:21: error: invalid JSON: invalid number "01"'],
      ['{"credential_type": "iam_user",\n "credential_type": "assumed_role"}', 'roles/r.json:2:2: error: /credential_type duplicate key (first at line 1)'],
    ];
    for (const [text, expected] of cases) expect(validate({ 'roles/r.json': text }).errors).toEqual([expected]);
  });

  it('JSON inside a policy_document string: positions inside the string, escapes counted', () => {
    const inner = '{"Statement": {"Effect": "Allow", "Action": "s3", "Resource": "*"}}';
    const text = `{\n  "credential_type": "iam_user",\n  "policy_document": ${JSON.stringify(inner)}\n}`;
    expect(validate({ 'roles/r.json': text }).errors).toEqual([
      `roles/r.json:${locate(text, '\\"s3\\"')}: error: /policy_document/Statement/Action must be "*" or "service:Action" (wildcards * and ? allowed), like "s3:GetObject" (found "s3")`,
    ]);
    const broken = `{\n  "credential_type": "iam_user",\n  "policy_document": ${JSON.stringify('{"Statement": [}')}\n}`;
    expect(validate({ 'roles/r.json': broken }).errors).toEqual([
      `roles/r.json:${locate(broken, '}"')}: error: /policy_document is not valid JSON: expected a value, found "}"`,
    ]);
  });

  it('YAML: values, nested keys and syntax errors', () => {
    const sink = 'role: deploy\n# comment\nttl: "1 hour"\nfile:\n  path: x\n  formt: ini\n';
    const { errors } = validate({ 'roles/deploy.json': { credential_type: 'iam_user' }, 'sinks/s.yaml': sink });
    expect(errors).toEqual([
      'sinks/s.yaml:3:6: error: /ttl must be a number of seconds or a duration such as 900, "15m", "1h", "768h" (found "1 hour")',
      'sinks/s.yaml:6:3: error: /file/formt unknown field "formt" (did you mean "format"?)',
    ]);
    expect(validate({ 'sinks/s.yaml': 'role: x\nfile:\n  path: [a\n' }).errors).toEqual(['sinks/s.yaml:4:1: error: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]']);
    expect(validate({ 'sinks/s.yaml': 'role: x\nrole: y\nfile: {path: x}\n' }).errors).toEqual(['sinks/s.yaml:2:1: error: invalid YAML: Map keys must be unique']);
  });
});

describe('source parsers', () => {
  it('JSON position() falls back to the nearest existing ancestor', () => {
    const file = parseJsonSource('x.json', '{\n  "a": {\n    "b": 1\n  }\n}');
    expect(file.position('/a/b')).toEqual({ line: 3, column: 10 });
    expect(file.position('/a/b', 'key')).toEqual({ line: 3, column: 5 });
    expect(file.position('/a/missing')).toEqual({ line: 2, column: 8 });
    expect(file.position('')).toEqual({ line: 1, column: 1 });
  });

  it('JSON keeps "__proto__" as data and rejects hostile nesting without crashing', () => {
    const file = parseJsonSource('x.json', '{"__proto__": {"polluted": true}}');
    expect(Object.keys(file.value as object)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const deep = parseJsonSource('x.json', '['.repeat(100_000));
    expect(deep.diagnostics[0]?.message).toBe('invalid JSON: nesting deeper than 256 levels');
  });

  it('YAML position() for keys, values and sequence items', () => {
    const file = parseYamlSource('x.yaml', 'a:\n  - 1\n  - b: two\n');
    expect(file.position('/a/1/b')).toEqual({ line: 3, column: 8 });
    expect(file.position('/a/1/b', 'key')).toEqual({ line: 3, column: 5 });
    expect(file.position('/a/0')).toEqual({ line: 2, column: 5 });
  });
});
