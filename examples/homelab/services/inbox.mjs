// The example lab's alert inbox: the receiver of its webhook channel, so a fresh machine sees its
// alerts without any outside service. Each notification becomes one log line per alert (read them
// with `groundwork logs inbox`); GET /inbox/ lists the last 100 lines. Swap the channel for ntfy,
// Slack or email in groundwork.yaml when the lab should reach a phone.
import http from 'node:http';

const port = Number(process.env.PORT);
const recent = [];
// Delivery is at least once: a notification sent again after a daemon crash carries the same
// Idempotency-Key, and is shown once.
const seen = new Set();

function lines(n) {
  const link = n.status === 'firing' && n.links?.acknowledge ? ` (acknowledge: ${n.links.acknowledge})` : '';
  if (!n.group)
    return [`[${n.status.toUpperCase()}] ${n.alert}: ${n.summary || n.alert}, severity ${n.severity}${link}`];
  return [
    `[${n.status.toUpperCase()}] ${n.summary}`,
    ...n.group.alerts.map((a) => `  [${a.status.toUpperCase()}] ${a.alert}: ${a.summary || a.alert}`),
  ];
}

const server = http.createServer((req, res) => {
  req.url = req.url.replace(/^\/inbox(?=\/)/, '');
  if (req.url === '/healthz') return void res.writeHead(200).end('ok\n');
  if (req.url === '/' && req.method === 'GET') {
    return void res.writeHead(200, { 'content-type': 'text/plain' }).end(recent.map((l) => `${l}\n`).join(''));
  }
  if (req.url !== '/hook' || req.method !== 'POST') return void res.writeHead(404).end('not found\n');
  let body = '';
  req.on('data', (c) => {
    body += c;
    if (body.length > 1_000_000) req.destroy();
  });
  req.on('end', () => {
    let n;
    try {
      n = JSON.parse(body).notification;
    } catch {
      return void res.writeHead(400).end('expected the webhook channel JSON body\n');
    }
    const key = req.headers['idempotency-key'];
    if (!key || !seen.has(key)) {
      if (key) seen.add(key);
      if (seen.size > 1000) seen.delete(seen.values().next().value);
      for (const l of lines(n)) {
        const line = `${new Date().toISOString()} ${l}`;
        console.log(line);
        recent.push(line);
      }
      recent.splice(0, Math.max(0, recent.length - 100));
    }
    res.writeHead(200).end('ok\n');
  });
});
server.listen(port, '127.0.0.1', () => console.log(`inbox listening on 127.0.0.1:${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
