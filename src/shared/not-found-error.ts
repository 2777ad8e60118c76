/** Nothing is stored under that id (or the id is not one we could have made). */
export class NotFoundError extends Error {
  constructor(readonly kind: 'dataset' | 'model' | 'job' | 'study', readonly id: string, message = `no ${kind} with id '${id}'`) {
    super(message);
    this.name = 'NotFoundError';
  }
}
