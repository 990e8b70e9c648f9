import { ENDPOINT_OF_ERROR } from '../aws/clients.js';
import { AwsUserError, UserError } from '../errors.js';

/** What the SDK puts on an error AWS answered with. */
interface SdkServiceError {
  name: string;
  message: string;
  Code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

function asServiceError(err: unknown): SdkServiceError | undefined {
  if (!(err instanceof Error)) return undefined;
  const e = err as Error & SdkServiceError;
  return e.$metadata !== undefined && e.$fault !== undefined && !isUnparsed(e) ? e : undefined;
}

/**
 * An answer the SDK could not read as AWS's (an HTML error page from a proxy
 * or load balancer, a truncated body): it then names the error "Unknown" or
 * throws its parser's SyntaxError, neither of which says anything to a user.
 */
function isUnparsed(e: Error & Partial<SdkServiceError>): boolean {
  if (e.$metadata?.httpStatusCode === undefined) return false;
  return e.name === 'SyntaxError' || (e.name === 'Unknown' && !e.Code) || /XML parse error|Deserialization error|is not valid JSON/i.test(e.message);
}



/**
 * AWS's error code as AWS documents it ("NoSuchEntity", "DeleteConflict",
 * "AccessDenied"). The SDK names modelled errors "<Code>Exception"; the code
 * on the wire is kept when the protocol parser exposes it.
 */
export function awsErrorCode(err: unknown): string | undefined {
  if (err instanceof AwsUserError) return err.code;
  const e = asServiceError(err);
  if (!e) return undefined;
  return e.Code ?? e.name.replace(/Exception$/, '');
}

export function isAwsError(err: unknown, ...codes: string[]): boolean {
  const code = awsErrorCode(err);
  return code !== undefined && codes.includes(code);
}

export const isNoSuchEntity = (err: unknown) => isAwsError(err, 'NoSuchEntity');
export const isDeleteConflict = (err: unknown) => isAwsError(err, 'DeleteConflict');

/**
 * Codes an AWS-compatible endpoint uses for an action it does not implement.
 * Real AWS implements every call credops makes; emulators may lack the rarely
 * used ones (SSH keys, signing certificates), which revocation then skips.
 */
export const isUnsupportedAction = (err: unknown) => isAwsError(err, 'InvalidAction', 'NotImplemented', 'UnknownOperation');

/** How many attempts the SDK made for the call that failed (1 when unknown). */
export function attemptsOf(err: unknown): number {
  const e = asServiceError(err) ?? asServiceError((err as { cause?: unknown } | undefined)?.cause);
  return e?.$metadata?.attempts ?? 1;
}

/**
 * Whether a failed create certainly created nothing: the request could not be
 * signed (no credentials) or reach the endpoint, or AWS refused it on the first
 * and only attempt (a client fault: AccessDenied, InvalidInput, LimitExceeded).
 * A server fault, a timeout, a reset or a retried call may have been applied
 * with its answer lost: ambiguous, to be resolved by reading what exists.
 */
export function nothingCreated(err: unknown): boolean {
  const code = awsErrorCode(err);
  if (code === 'NoCredentials' || code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') return true;
  const e = asServiceError(err) ?? asServiceError((err as { cause?: unknown } | undefined)?.cause);
  return e !== undefined && e.$fault === 'client' && attemptsOf(err) === 1;
}

const NETWORK_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/**
 * Turns what the SDK threw into the error the user sees (STYLE.md §4): AWS's
 * refusal with its code and message, naming the mount, role and operation.
 * Client faults were not retried (nothing a retry can fix); server faults and
 * throttling reach here only after the adaptive retries gave up, which the
 * message says. Anything that is not from AWS passes through untouched.
 */
export function toUserError(err: unknown, context: { mount?: string; role?: string; operation: string }, waitedMs?: number): unknown {
  if (err instanceof UserError) return err;
  const endpoint = (err as { [ENDPOINT_OF_ERROR]?: string } | undefined)?.[ENDPOINT_OF_ERROR] ?? 'the AWS endpoint';
  if (err instanceof Error && isUnparsed(err as Error & SdkServiceError)) {
    const meta = (err as Error & SdkServiceError).$metadata;
    const tries = (meta?.attempts ?? 1) > 1 ? ` (after ${meta!.attempts} attempts)` : '';
    return new AwsUserError('UnreadableAnswer', `HTTP ${meta?.httpStatusCode} from ${endpoint}, not an AWS answer${tries}`, context, { cause: err });
  }
  if (err instanceof Error && err.name === 'TimeoutError') {
    const waited = waitedMs === undefined ? '' : ` (waited ${(waitedMs / 1000).toFixed(1)} s in all)`;
    return new AwsUserError('RequestTimeout', `no answer from ${endpoint}${waited}: ${err.message.replace(/^@smithy\/node-http-handler - (\[ERROR\] )?/, '')}`, context, { cause: err });
  }
  const e = asServiceError(err);
  if (e) {
    const attempts = e.$metadata?.attempts ?? 1;
    const retried = attempts > 1 ? ` (gave up after ${attempts} attempts)` : '';
    return new AwsUserError(awsErrorCode(e) ?? e.name, `${e.message || 'no message'}${retried}`, context, { cause: err });
  }
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code && NETWORK_ERROR_CODES.has(code)) {
      return new AwsUserError(code, `cannot reach the AWS endpoint: ${err.message}`, context, { cause: err });
    }
    if (err.name === 'CredentialsProviderError') {
      return new AwsUserError('NoCredentials', `${err.message} (set credentials for the SDK or run credops config root)`, context, { cause: err });
    }
  }
  return err;
}

/** Runs one AWS call, reporting a failure as toUserError does. */
export async function awsCall<T>(context: { mount?: string; role?: string; operation: string }, call: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await call();
  } catch (err) {
    throw toUserError(err, context, Date.now() - started);
  }
}
