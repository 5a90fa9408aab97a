/** One problem in a stack file, located and with a fix. */
export interface Diagnostic {
  severity: 'error' | 'warning';
  /** Small closed set, stable for tools. */
  code: DiagnosticCode;
  file: string;
  line: number;
  column: number;
  /** Dotted path in the document, e.g. services.web.replicas. */
  path: string;
  message: string;
  expected?: string;
  found?: string;
  fix?: string;
}

export const DIAGNOSTIC_CODES = [
  'yaml-syntax',
  'duplicate-key',
  'empty-file',
  'not-text',
  'too-large',
  'unknown-key',
  'missing-key',
  'wrong-type',
  'invalid-value',
  'dangling-reference',
  'cycle',
  'conflict',
  'unsupported',
  'io-error',
] as const;
export type DiagnosticCode = (typeof DIAGNOSTIC_CODES)[number];

export function formatDiagnostic(d: Diagnostic): string {
  const lines = [`${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}`];
  if (d.expected !== undefined) lines.push(`  expected: ${d.expected}`);
  if (d.found !== undefined) lines.push(`  found:    ${d.found}`);
  if (d.fix !== undefined) lines.push(`  fix:      ${d.fix}`);
  return lines.join('\n');
}

export function hasErrors(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => d.severity === 'error');
}
