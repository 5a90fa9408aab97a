/** Small display helpers shared by the pages. */

/** "12s ago", "5m ago", "3h ago", "2d ago" from an ISO time; `now` passed for a steady render. */
export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

export function errorText(e: unknown): string {
  if (e instanceof Error) {
    const fix = (e as Error & { fix?: string }).fix;
    return fix ? `${e.message} (${fix})` : e.message;
  }
  return String(e);
}
