/** The job is in a state that does not allow the request (e.g. cancelling a finished job). */
export class JobStateConflictError extends Error {
  constructor(readonly jobId: string, readonly state: string, action: string) {
    super(`job '${jobId}' is ${state}: it cannot be ${action}`);
    this.name = 'JobStateConflictError';
  }
}

/** An Idempotency-Key already used for a different request body. */
export class IdempotencyKeyReusedError extends Error {
  constructor(readonly jobId: string) {
    super(`this Idempotency-Key was already used for a different request (job '${jobId}'); use a new key for a new request`);
    this.name = 'IdempotencyKeyReusedError';
  }
}
