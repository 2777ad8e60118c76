import { randomUUID } from 'node:crypto';

const ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Ids of datasets, models and jobs: random UUIDs, checked before they ever touch a path. */
export function newId(): string {
  return randomUUID();
}

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

export const ID_JSON_PATTERN = ID_PATTERN.source;
