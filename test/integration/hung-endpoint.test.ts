/**
 * Story: the AWS endpoint stops answering (a proxy that accepts connections and
 * never replies), or answers with a proxy's HTML page. credops fails the
 * operation within the mount's timeout, says which call and which endpoint,
 * and releases the state lock so that the next command runs at once.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { applyRoles, credopsUsers, eachTestWorld, engineFor, failure, mount, role, runCli, S3_READ, type LocalAws, type TempState } from './helpers.js';

let aws: LocalAws;
let t: TempState;

eachTestWorld((w) => ({ aws, t } = w));

beforeEach(async () => {
  await applyRoles(t.state, [role('deploy', { credential_types: ['iam_user'], policy_document: S3_READ })], [mount({ request_timeout: 1, max_retries: 1 })]);
});

describe('a hung endpoint', () => {
  it('fails creds within the timeout, naming the call and the wait; the next command gets the lock', async () => {
    const release = aws.faults.hold('CreateUser');
    try {
      const started = Date.now();
      const creds = await runCli(aws, t, ['creds', 'deploy']);
      expect(creds.code).toBe(1);
      expect(creds.stderr).toMatch(/aws\/roles\/deploy CreateUser: AWS RequestTimeout: no answer from http:\/\/127\.0\.0\.1:\d+ \(waited \d+\.\d s in all\)/);
      // Two attempts of one second each, plus process start-up: far from the minutes it used to hang.
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(await t.state.lockHolder()).toBeUndefined();

      const list = await runCli(aws, t, ['lease', 'list', '--lock-timeout', '1s']);
      expect(list.code).toBe(0);
    } finally {
      release();
    }
  });
});

describe('an answer that is not from AWS', () => {
  it('names the operation, the HTTP status and the endpoint instead of a parser error', async () => {
    const { engine } = engineFor(aws, t);
    aws.faults.answerHtml('CreateUser', 502, 10);
    const err = await failure(engine.issue({ mount: 'aws', role: 'deploy', path: 'creds' }));
    expect(err.message).toMatch(/^aws\/roles\/deploy CreateUser: AWS UnreadableAnswer: HTTP 502 from http:\/\/127\.0\.0\.1:\d+, not an AWS answer \(after 2 attempts\)$/);
    expect(credopsUsers(aws)).toEqual([]);
  });
});
