// How the CLI prints: readable tables by default, JSON with --json; errors on stderr.
import Table from 'cli-table3';
import pc from 'picocolors';
import { formatSize } from '../lib/size.js';

export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => string | number | boolean | null | undefined;
}

const HEAD_STYLE = process.stdout.isTTY ? ['bold'] : [];
const NO_ROW_LINES = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' };

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

const cell = (value: string | number | boolean | null | undefined): string =>
  value === null || value === undefined
    ? '-'
    : typeof value === 'boolean'
      ? value
        ? 'yes'
        : 'no'
      : String(value);

export function printTable<T>(rows: readonly T[], columns: readonly Column<T>[], empty = 'none'): void {
  if (rows.length === 0) {
    process.stdout.write(`${pc.dim(`(${empty})`)}\n`);
    return;
  }
  const table = new Table({ head: columns.map((c) => c.header), style: { head: HEAD_STYLE, border: [] } });
  for (const row of rows) table.push(columns.map((c) => cell(c.value(row))));
  process.stdout.write(`${table.toString()}\n`);
}

export function printFields(fields: readonly [string, string | number | boolean | null | undefined][]): void {
  const table = new Table({ chars: NO_ROW_LINES, style: { head: HEAD_STYLE, border: [] } });
  for (const [key, value] of fields) table.push({ [key]: cell(value) });
  process.stdout.write(`${table.toString()}\n`);
}

export function printError(message: string): void {
  process.stderr.write(`${pc.red('error:')} ${message}\n`);
}

export const size = (bytes: number | null | undefined): string =>
  bytes === null || bytes === undefined ? '-' : formatSize(bytes);
