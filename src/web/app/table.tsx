/**
 * The pages' tables: a header row from the columns, one row per item, and a sentence instead of
 * an empty table. Columns marked `wide` hide on narrow screens (style.css), so the table fits 360 px.
 */
import type { ComponentChildren, JSX } from 'preact';

export interface Column<R> {
  /** Header text (empty for an action column). */
  head: string;
  cell(row: R): ComponentChildren;
  /** Hidden below 640 px: detail that a phone can do without. */
  wide?: boolean;
  /** A class of the column's cells (e.g. `name`: long names break anywhere rather than widen the table). */
  class?: string;
}

export interface TableProps<R> {
  rows: readonly R[] | undefined;
  columns: readonly Column<R>[];
  rowKey(row: R): string | number;
  /** Shown instead of the table when `rows` is an empty list (nothing while still loading). */
  empty?: ComponentChildren;
  /** Extra attributes of a row: a class, data-* for tests and styles. */
  rowAttrs?(row: R): Record<string, string | undefined>;
  class?: string;
  /**
   * Below 640 px each row becomes a block with one labelled line per cell (style.css), for tables
   * whose cells are too long to sit side by side on a phone.
   */
  stacked?: boolean;
  /** Names the table for screen readers (the id of its heading). */
  labelledBy?: string;
}

export function Table<R>(p: TableProps<R>): JSX.Element | null {
  if (p.rows !== undefined && p.rows.length === 0 && p.empty !== undefined) return <p class="muted">{p.empty}</p>;
  const rows = p.rows ?? [];
  return (
    <table
      class={[p.class, p.stacked ? 'stacked' : undefined].filter(Boolean).join(' ') || undefined}
      aria-labelledby={p.labelledBy}
      hidden={rows.length === 0}
    >
      <thead>
        <tr>
          {p.columns.map((c, i) => (
            <th key={i} scope="col" class={c.wide ? 'wide' : undefined}>
              {c.head}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={p.rowKey(r)} {...(p.rowAttrs?.(r) ?? {})}>
            {p.columns.map((c, i) => (
              <td
                key={i}
                class={[c.class, c.wide ? 'wide' : undefined].filter(Boolean).join(' ') || undefined}
                data-label={p.stacked ? c.head : undefined}
              >
                {/* Stacked, the cell is a label (its ::before) and this one box beside it. */}
                {p.stacked ? <span class="cell">{c.cell(r)}</span> : c.cell(r)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
