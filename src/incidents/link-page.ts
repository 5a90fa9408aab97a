/**
 * The page a signed acknowledge or resolve link opens in a browser. Opening the link (a GET, as
 * chat previews and mail scanners also do) only shows the incident and a button; the button posts
 * the same signed address, and only that POST acts. Everything from the incident is escaped: its
 * title comes from alert text.
 */

export type LinkAction = 'ack' | 'resolve';

export interface LinkPageInput {
  incident: { id: number; status: string; title: string };
  action: LinkAction;
  /** true after the POST (or when there is nothing left to do); false: the page asks to confirm. */
  done: boolean;
  /** The signed address the button posts to (path and query, so it works behind any host name). */
  postTo: string;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

const VERB: Record<LinkAction, string> = { ack: 'Acknowledge', resolve: 'Resolve' };

export function linkPage(p: LinkPageInput): string {
  const { id, status, title } = p.incident;
  const heading = `Incident #${id}: ${escapeHtml(title)}`;
  const body = p.done
    ? `<p>The incident is <strong>${escapeHtml(status)}</strong>.</p>`
    : `<p>Status: <strong>${escapeHtml(status)}</strong>.</p>
<form method="post" action="${escapeHtml(p.postTo)}">
<button type="submit">${VERB[p.action]} incident #${id}</button>
</form>
<p>Opening this page changed nothing; the button does it.</p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${heading}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}button{font-size:1.2rem;padding:.6rem 1.2rem}</style>
</head>
<body>
<h1>${heading}</h1>
${body}
</body>
</html>
`;
}

/** JSON for a client that asks for it (`Accept: application/json` without text/html); a page otherwise. */
export function wantsJson(accept: string | undefined): boolean {
  const a = (accept ?? '').toLowerCase();
  return a.includes('application/json') && !a.includes('text/html');
}
