/**
 * Writes (`--write`) or checks (`--check`) the settings table in docs/configuration.md, generated
 * from ConfigSchema (src/config.ts): one row per environment variable with its default and
 * description, between the `<!-- config:start -->` and `<!-- config:end -->` markers. The check
 * fails when the committed table is stale.
 */
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { relative } from 'node:path';
import type { TObject, TSchema } from '@sinclair/typebox';
import { ConfigSchema } from '../src/config.js';

export const CONFIG_DOCS_PATH = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));
export const START_MARKER = '<!-- config:start -->';
export const END_MARKER = '<!-- config:end -->';

/** The markdown table of every setting in `schema`, in schema order. */
export function configTable(schema: TObject = ConfigSchema): string {
  const required = new Set(schema.required ?? []);
  const rows = Object.entries(schema.properties).map(([name, property]) => {
    const optional = !required.has(name);
    return `| \`${name}\` | ${defaultCell(property, optional)} | ${descriptionCell(property)} |`;
  });
  return [
    '<!-- generated from ConfigSchema (src/config.ts) by `npm run config:docs`; do not edit by hand -->',
    '',
    '| variable | default | description |',
    '| --- | --- | --- |',
    ...rows,
  ].join('\n');
}

/** `document` with the text between the markers replaced by `table`; throws when a marker is missing. */
export function withConfigTable(document: string, table: string): string {
  const start = document.indexOf(START_MARKER);
  const end = document.indexOf(END_MARKER);
  if (start < 0 || end < start) throw new Error(`the ${START_MARKER} … ${END_MARKER} markers are missing`);
  return `${document.slice(0, start + START_MARKER.length)}\n${table}\n${document.slice(end)}`;
}

export interface ConfigDocsCheck {
  ok: boolean;
  /** The file as it should be (equal to `current` when ok). */
  expected: string;
  current: string;
}

/** Compares the file's table with the one generated from `schema`. */
export function checkConfigDocs(path: string = CONFIG_DOCS_PATH, schema: TObject = ConfigSchema): ConfigDocsCheck {
  let current = '';
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    /* missing counts as stale */
  }
  let expected: string;
  try {
    expected = withConfigTable(current, configTable(schema));
  } catch {
    return { ok: false, expected: '', current };
  }
  return { ok: current === expected, expected, current };
}

function defaultCell(property: TSchema, optional: boolean): string {
  if (property.default === undefined) return optional ? 'unset (optional)' : '—';
  return `${code(String(property.default))}${optional ? ' (optional)' : ''}`;
}

function descriptionCell(property: TSchema): string {
  const parts: string[] = [];
  if (typeof property.description === 'string') parts.push(property.description.trim());
  const values = unionValues(property);
  if (values) parts.push(`One of ${values.map(code).join(', ')}.`);
  const range = rangeOf(property);
  if (range) parts.push(range);
  // One line per cell; `|` would end the cell and `<key>` would read as an HTML tag.
  return parts.join(' ').replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The literals of a union of literals (`Type.Union([Type.Literal('a'), …])`), else undefined. */
function unionValues(property: TSchema): string[] | undefined {
  const members = property.anyOf as TSchema[] | undefined;
  if (!Array.isArray(members) || !members.every((m) => m.const !== undefined)) return undefined;
  return members.map((m) => String(m.const));
}

function rangeOf(property: TSchema): string | undefined {
  const kind = property.type === 'integer' ? 'Integer' : property.type === 'number' ? 'Number' : undefined;
  if (!kind) return undefined;
  const { minimum: min, maximum: max } = property as { minimum?: number; maximum?: number };
  if (min !== undefined && max !== undefined) return `${kind}, ${min}–${max}.`;
  if (min !== undefined) return `${kind}, ≥ ${min}.`;
  if (max !== undefined) return `${kind}, ≤ ${max}.`;
  return `${kind}.`;
}

function code(text: string): string {
  return `\`${text}\``;
}

function main(mode: string | undefined): number {
  if (mode !== '--write' && mode !== '--check') {
    console.error('usage: tsx scripts/config-docs.ts --write | --check');
    return 2;
  }
  const name = relative(process.cwd(), CONFIG_DOCS_PATH) || CONFIG_DOCS_PATH;
  const check = checkConfigDocs();
  if (!check.expected) {
    console.error(`${name}: the ${START_MARKER} … ${END_MARKER} markers are missing (or the file is)`);
    return 1;
  }
  if (mode === '--write') {
    if (!check.ok) writeFileSync(CONFIG_DOCS_PATH, check.expected);
    console.log(check.ok ? `${name} is up to date` : `wrote ${name}`);
    return 0;
  }
  if (!check.ok) {
    console.error(`${name} is stale: its settings table differs from ConfigSchema (src/config.ts); run \`npm run config:docs\` and commit it`);
    return 1;
  }
  console.log(`${name} is up to date`);
  return 0;
}

// Run as a script (tsx scripts/config-docs.ts …), not when a test imports it.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  process.exitCode = main(process.argv[2]);
}
