/** An error the endpoint answers with, in the wire shape of the service that raised it. */
export class AwsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    /** Query-protocol `<Type>`: Sender for the caller's mistakes, Receiver for ours. */
    readonly type: 'Sender' | 'Receiver' = status >= 500 ? 'Receiver' : 'Sender',
  ) {
    super(message);
  }
}

export const noSuchEntity = (message: string): AwsError => new AwsError('NoSuchEntity', message, 404);
export const validation = (message: string): AwsError => new AwsError('ValidationError', message, 400);
export const limitExceeded = (message: string): AwsError => new AwsError('LimitExceeded', message, 409);
export const alreadyExists = (message: string): AwsError => new AwsError('EntityAlreadyExists', message, 409);
export const deleteConflict = (message: string): AwsError => new AwsError('DeleteConflict', message, 409);

/** HTTP status AWS uses for an error code, for `failNext` with a code the caller names. */
export function statusForCode(code: string): number {
  const known: Record<string, number> = {
    Throttling: 400,
    ThrottlingException: 400,
    RequestLimitExceeded: 400,
    InternalFailure: 500,
    InternalError: 500,
    InternalServiceError: 500,
    ServiceFailure: 500,
    ServiceUnavailable: 503,
    ServiceUnavailableException: 503,
    NoSuchEntity: 404,
    ResourceNotFoundException: 400,
    EntityAlreadyExists: 409,
    DeleteConflict: 409,
    LimitExceeded: 409,
    ConcurrentModification: 409,
    AccessDenied: 403,
    AccessDeniedException: 400,
    InvalidClientTokenId: 403,
    SignatureDoesNotMatch: 403,
    ExpiredToken: 403,
    UnrecognizedClientException: 400,
  };
  return known[code] ?? 400;
}
