/**
 * Test helper run as a separate process by shared-state.test.ts: applies a
 * snapshot of N roles with the given commit to the state, over and over, until
 * it is killed. Prints "applying" before the first apply starts.
 */
import { randomBytes } from 'node:crypto';
import { openState } from '../../src/state/index.js';
import { mount, role } from './fixtures.js';

const [url, count, commit] = process.argv.slice(2);
if (!url || !count || !commit) throw new Error('usage: apply-loop.ts STATE_URL N COMMIT');

const state = await openState(url);
// Random resources, so that the snapshot does not compress to one chunk: the kill lands between chunks too.
const roles = Array.from({ length: Number(count) }, (_, i) =>
  role(`${commit}-${i}`, { policy_document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${randomBytes(64).toString('hex')}/*` }] } }),
);
process.stdout.write('applying\n');
for (;;) await state.apply({ commit, roles, sinks: [], mounts: [mount('aws')] });
