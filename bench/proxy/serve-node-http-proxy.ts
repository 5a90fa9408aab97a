/**
 * Child process of proxy-throughput.bench.ts: the straightforward Node reverse proxy the
 * built-in one is measured against, so its raw-socket design stays justified by a number.
 * `node:http` server, `http.request` to the backends round-robin through one keep-alive agent,
 * bodies piped both ways, hop-by-hop headers dropped and X-Forwarded-For appended (the least a
 * proxy must do). One process, one thread, like the others.
 *
 *   node --import tsx bench/proxy/serve-node-http-proxy.ts '{"port":8080,"backends":[8081,8082]}'
 */
import http from 'node:http';

interface Config {
  port: number;
  backends: number[];
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);

function forwardable(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as Config;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1024, maxFreeSockets: 128 });
let next = 0;

const server = http.createServer((req, res) => {
  const port = cfg.backends[next++ % cfg.backends.length] as number;
  const headers = forwardable(req.headers);
  const client = req.socket.remoteAddress ?? '';
  headers['x-forwarded-for'] = req.headers['x-forwarded-for'] ? `${req.headers['x-forwarded-for']}, ${client}` : client;
  const up = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers, agent }, (upRes) => {
    res.writeHead(upRes.statusCode ?? 502, forwardable(upRes.headers));
    upRes.pipe(res);
  });
  up.on('error', () => {
    if (!res.headersSent) res.writeHead(502).end('bad gateway\n');
    else res.destroy();
  });
  req.pipe(up);
});
server.keepAliveTimeout = 60_000;
server.listen(cfg.port, '127.0.0.1', () => process.stdout.write(`ready ${cfg.port}\n`));
process.once('SIGTERM', () => {
  server.close();
  agent.destroy();
  process.exit(0);
});
