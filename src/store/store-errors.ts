/** Nothing is stored under that id (or the id is not one we could have made). */
export class NotFoundError extends Error {
  constructor(readonly kind: 'dataset' | 'model' | 'job', readonly id: string, message = `no ${kind} with id '${id}'`) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** An upload that is not valid CSV / NDJSON; `line` is 1-based where known. */
export class DatasetFormatError extends Error {
  constructor(message: string, readonly line?: number) {
    super(line !== undefined ? `line ${line}: ${message}` : message);
    this.name = 'DatasetFormatError';
  }
}

/** An upload larger than the configured limit. */
export class PayloadTooLargeError extends Error {
  constructor(readonly limit: number, message = `dataset is larger than the limit of ${limit} bytes`) {
    super(message);
    this.name = 'PayloadTooLargeError';
  }
}
