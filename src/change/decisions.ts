/**
 * Decision records (ADRs, after Michael Nygard's template): one Markdown file per decision under
 * docs/decisions/ of the stack's directory, numbered 0001, 0002, ... Changes name the decisions
 * they implement (`--decision 3`) and `groundwork history` shows them.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface DecisionRecord {
  number: number;
  title: string;
  /** The status line of the file (proposed, accepted, superseded by 0007, ...). */
  status: string;
  /** Relative to the stack's directory. */
  file: string;
}

const FILE = /^(\d{4})-[a-z0-9-]+\.md$/;

/** A decision record with its text, as the API serves it. */
export interface DecisionDocument extends DecisionRecord {
  markdown: string;
}

/** Larger records are not served whole: a decision record is a page or two, never megabytes. */
export const MAX_DECISION_BYTES = 256 * 1024;

export function decisionsDir(stackDir: string): string {
  return path.join(stackDir, 'docs', 'decisions');
}

/** `Use PostgreSQL for the shared store!` → `use-postgresql-for-the-shared-store`. */
export function slugOf(title: string): string {
  const slug = title
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
  return slug || 'decision';
}

export function listDecisions(stackDir: string): DecisionRecord[] {
  const dir = decisionsDir(stackDir);
  if (!existsSync(dir)) return [];
  const out: DecisionRecord[] = [];
  for (const name of readdirSync(dir).sort()) {
    const m = FILE.exec(name);
    if (!m) continue;
    const text = readFileSync(path.join(dir, name), 'utf8');
    const title = /^#\s*(?:\d+\.\s*)?(.+)$/m.exec(text)?.[1]?.trim() ?? name;
    const status = /^Status:\s*(.+)$/im.exec(text)?.[1]?.trim() ?? 'unknown';
    out.push({ number: Number(m[1]), title, status, file: path.relative(stackDir, path.join(dir, name)) });
  }
  return out;
}

/** The decisions of `numbers` that have no file, in order. */
export function missingDecisions(stackDir: string, numbers: readonly number[]): number[] {
  const known = new Set(listDecisions(stackDir).map((d) => d.number));
  return numbers.filter((n) => !known.has(n));
}

/** Writes the next numbered decision record from the template; refuses to overwrite one. */
export function newDecision(stackDir: string, title: string, now: Date, author: string): DecisionRecord {
  const clean = title.trim();
  if (!clean) throw new Error('a decision needs a title, e.g. `groundwork decision new "Use PostgreSQL for teams"`');
  const dir = decisionsDir(stackDir);
  mkdirSync(dir, { recursive: true });
  const next = Math.max(0, ...listDecisions(stackDir).map((d) => d.number)) + 1;
  const num = String(next).padStart(4, '0');
  const name = `${num}-${slugOf(clean)}.md`;
  const text = [
    `# ${next}. ${clean}`,
    '',
    `Date: ${now.toISOString().slice(0, 10)}`,
    `Author: ${author}`,
    'Status: proposed',
    '',
    '## Context',
    '',
    'What is the issue that we are seeing that is motivating this decision or change?',
    '',
    '## Decision',
    '',
    'What is the change that we are proposing and/or doing?',
    '',
    '## Consequences',
    '',
    'What becomes easier or more difficult to do because of this change?',
    '',
  ].join('\n');
  // `wx`: two people making a decision at once get different numbers, never one overwritten file.
  writeFileSync(path.join(dir, name), text, { flag: 'wx' });
  return { number: next, title: clean, status: 'proposed', file: path.relative(stackDir, path.join(dir, name)) };
}

/**
 * Decision `n` with its Markdown, or undefined when there is none. Only a file listDecisions found
 * (a name of the numbered pattern inside docs/decisions/) is read, so no path can be asked for.
 */
export function tryReadDecision(stackDir: string, n: number): DecisionDocument | undefined {
  const d = listDecisions(stackDir).find((x) => x.number === n);
  if (!d) return undefined;
  const file = path.join(stackDir, d.file);
  const size = statSync(file).size;
  const text = readFileSync(file, 'utf8');
  const markdown =
    size > MAX_DECISION_BYTES
      ? `${text.slice(0, MAX_DECISION_BYTES)}\n\n(cut at ${MAX_DECISION_BYTES} bytes; the whole record is ${d.file})\n`
      : text;
  return { ...d, markdown };
}
