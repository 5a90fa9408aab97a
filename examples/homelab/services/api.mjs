// A tiny notes API for the example lab: GET/POST /notes, GET /healthz.
// Notes are kept in a JSON file in the data volume, so they survive restarts.
import http from 'node:http';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const port = Number(process.env.PORT);
const file = path.join(process.env.DATA_DIR ?? '.', 'notes.json');
const notes = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : [];
const started = Date.now();

const server = http.createServer((req, res) => {
  // Reached directly or through the proxy's /api/ route.
  req.url = req.url.replace(/^\/api(?=\/)/, '');
  const json = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify(body)}\n`);
  };
  if (req.url === '/healthz') return json(200, { ok: true, uptime_s: Math.round((Date.now() - started) / 1000) });
  if (req.url === '/notes' && req.method === 'GET') return json(200, notes);
  if (req.url === '/notes' && req.method === 'POST') {
    let body = '';
    req.on('data', (c) => {
      body += c;
      if (body.length > 10_000) req.destroy();
    });
    req.on('end', () => {
      notes.push({ at: new Date().toISOString(), text: body.trim() });
      writeFileSync(file, JSON.stringify(notes));
      json(201, { count: notes.length });
    });
    return;
  }
  json(404, { error: 'not found' });
});
server.listen(port, '127.0.0.1', () => console.log(`api listening on 127.0.0.1:${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
