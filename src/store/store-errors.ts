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
