import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import type { Clock } from '../clock.js';
import { UserError } from '../errors.js';
import { awsErrorCode, isAwsError, toUserError } from './aws-errors.js';
import { formatDuration } from '../duration.js';

/**
 * A new access key is not accepted everywhere at once (IAM is eventually
 * consistent; AWS advises waiting seconds, sometimes more). waitUntilAccepted
 * asks GetCallerIdentity with the key, backing off from the first wait up to
 * the longest, until it works or the timeout passes.
 */
export const USABLE_TIMEOUT_MS = 60_000;
export const USABLE_FIRST_WAIT_MS = 250;
export const USABLE_MAX_WAIT_MS = 5_000;

/**
 * Polls GetCallerIdentity through `sts` (a client signing with the new
 * credential) until AWS accepts it. Only "this key is not known (yet)" errors
 * are waited out; any other error fails at once, as AWS's own answer.
 * Destroys the client when done.
 */
export async function waitUntilAccepted(
  sts: STSClient,
  clock: Clock,
  opts: { what: string; context: { mount?: string; role?: string; operation: string }; timeoutMs?: number },
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? USABLE_TIMEOUT_MS;
  const deadline = clock.now() + timeoutMs;
  let wait = USABLE_FIRST_WAIT_MS;
  try {
    for (;;) {
      try {
        await sts.send(new GetCallerIdentityCommand({}));
        return;
      } catch (err) {
        if (!isAwsError(err, 'InvalidClientTokenId', 'SignatureDoesNotMatch', 'AuthFailure')) throw toUserError(err, opts.context);
        if (clock.now() + wait > deadline) {
          throw new UserError(`AWS did not accept ${opts.what} within ${formatDuration(Math.round(timeoutMs / 1000))} (last error: ${awsErrorCode(err)})`, {
            cause: err,
          });
        }
      }
      await clock.sleep(wait);
      wait = Math.min(wait * 2, USABLE_MAX_WAIT_MS);
    }
  } finally {
    sts.destroy();
  }
}
