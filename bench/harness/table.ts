/** The results table printed by bench/run.ts. */
import { describeTarget, formatNumber, type JudgedResult } from './bench.js';

const HEADERS = ['bench', 'name', 'metric', 'value', 'unit', 'reference', 'ratio', 'target', 'result'] as const;
const RIGHT_ALIGNED = new Set<string>(['value', 'ratio']);

export function renderTable(rows: readonly JudgedResult[], colour: boolean): string {
  const paint = (status: JudgedResult['status'], s: string) => {
    if (!colour) return s;
    const code = status === 'pass' ? 32 : status === 'info' ? 2 : 31;
    return `\u001b[${code}m${s}\u001b[0m`;
  };
  const cells = rows.map((r): string[] => [
    r.bench,
    r.name,
    r.status === 'error' ? `error: ${r.error ?? ''}` : r.metric,
    r.status === 'error' ? '' : formatNumber(r.value),
    r.unit,
    r.reference ? `${r.reference.name} ${formatNumber(r.reference.value)}` : '-',
    r.ratio === undefined ? '-' : `${r.ratio.toFixed(2)}x`,
    r.target ? describeTarget(r.target, r.unit) : '-',
    r.status === 'info' ? '-' : r.status.toUpperCase(),
  ]);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const fmt = (c: readonly string[]) =>
    c
      .map((v, i) => (RIGHT_ALIGNED.has(HEADERS[i] ?? '') ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const lines = [fmt(HEADERS), widths.map((w) => '-'.repeat(w)).join('  ')];
  rows.forEach((r, i) => {
    const line = fmt(cells[i] ?? []);
    lines.push(r.status === 'info' ? line : paint(r.status, line));
  });
  return `${lines.join('\n')}\n`;
}
