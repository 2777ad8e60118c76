/** One problem with a field of a spec, located by a JSON pointer into the request body. */
export interface FieldError {
  pointer: string;
  detail: string;
}

/** A spec that cannot be trained on its dataset; carries every field problem found. */
export class SpecError extends Error {
  constructor(readonly errors: FieldError[]) {
    super(errors.map((e) => `${e.pointer}: ${e.detail}`).join('; '));
    this.name = 'SpecError';
  }
}
