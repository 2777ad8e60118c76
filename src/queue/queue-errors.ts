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

/** A dataset's lock was not had in time: another request holds it (queueing a job on it or deleting it) for long. */
export class DatasetBusyError extends Error {
  constructor(readonly datasetId: string) {
    super(`dataset '${datasetId}' is busy: another request is queueing a job on it or deleting it; try again shortly`);
    this.name = 'DatasetBusyError';
  }
}
