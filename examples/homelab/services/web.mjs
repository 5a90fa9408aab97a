// The example lab's front end: renders the notes it reads from the api service.
import http from 'node:http';

const port = Number(process.env.PORT);
const api = process.env.API_URL;
const title = process.env.TITLE ?? 'homelab';

const server = http.createServer(async (req, res) => {
  if (req.url === '/healthz') {
    // Ready only when the api answers too.
    try {
      const r = await fetch(`${api}/healthz`, { signal: AbortSignal.timeout(500) });
      res.writeHead(r.ok ? 200 : 503).end(r.ok ? 'ok\n' : 'api unhealthy\n');
    } catch {
      res.writeHead(503).end('api unreachable\n');
    }
    return;
  }
  try {
    const notes = await (await fetch(`${api}/notes`, { signal: AbortSignal.timeout(1000) })).json();
    const items = notes
      .map((n) => `<li>${n.at}: ${String(n.text).replace(/[<&]/g, (c) => (c === '<' ? '&lt;' : '&amp;'))}</li>`)
      .join('');
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<h1>${title}</h1><ul>${items}</ul>\n`);
  } catch (e) {
    res.writeHead(502, { 'content-type': 'text/plain' }).end(`api error: ${e.message}\n`);
  }
});
server.listen(port, '127.0.0.1', () => console.log(`web listening on 127.0.0.1:${port}, api at ${api}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
