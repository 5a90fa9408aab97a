/** The page of a signed incident link: alert text is escaped, and only the confirm button posts. */
import { describe, expect, it } from 'vitest';
import { linkPage, wantsJson } from '../../src/incidents/link-page.js';

describe('the signed link page', () => {
  it('escapes the incident title and the address, and asks before it acts', () => {
    const html = linkPage({
      incident: { id: 7, status: 'triggered', title: '<script>alert("x")</script> & db' },
      action: 'resolve',
      done: false,
      postTo: '/v1/incidents/7/resolve?sig=a"b',
    });
    expect(html).not.toContain('<script>');
    expect(html).toContain('Incident #7: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; db');
    expect(html).toContain('<form method="post" action="/v1/incidents/7/resolve?sig=a&quot;b">');
    expect(html).toContain('Resolve incident #7</button>');
    const done = linkPage({
      incident: { id: 7, status: 'resolved', title: 't' },
      action: 'resolve',
      done: true,
      postTo: '/x',
    });
    expect(done).not.toContain('<form');
    expect(done).toContain('The incident is <strong>resolved</strong>');
  });

  it('answers JSON only to a client that asks for JSON and not for a page', () => {
    expect(wantsJson('application/json')).toBe(true);
    expect(wantsJson('text/html,application/xhtml+xml,application/json;q=0.9')).toBe(false);
    expect(wantsJson('*/*')).toBe(false);
    expect(wantsJson(undefined)).toBe(false);
  });
});
