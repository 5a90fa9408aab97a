/**
 * Configurations of the processes in the proxy throughput bench. Every proxy gets one thread
 * (haproxy nbthread 1, nginx worker_processes 1, the Node proxy one process), keep-alive to
 * the same backends, round-robin, no logging.
 */
import path from 'node:path';

/** A backend: nginx answering every request with the same small static body. */
export function nginxBackendConfig(dir: string, port: number, body: string): string {
  return `worker_processes 1;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  client_body_temp_path ${path.join(dir, 'body')};
  server {
    listen 127.0.0.1:${port} backlog=1024;
    location / { default_type text/plain; return 200 "${body}"; }
  }
}
`;
}

/** `maxconn` must fit the open-file limit (HAProxy needs about two descriptors per connection). */
export function haproxyConfig(port: number, backends: readonly number[], openFiles: number): string {
  const maxconn = Math.max(256, Math.min(4000, Math.floor((openFiles - 200) / 2)));
  return `global
  nbthread 1
  maxconn ${maxconn}
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  balance roundrobin
  http-reuse always
${backends.map((p, i) => `  server b${i} 127.0.0.1:${p}`).join('\n')}
`;
}

export function nginxProxyConfig(dir: string, port: number, backends: readonly number[]): string {
  return `worker_processes 1;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${path.join(dir, 'body')};
  proxy_temp_path ${path.join(dir, 'proxy')};
  upstream be {
${backends.map((p) => `    server 127.0.0.1:${p};`).join('\n')}
    keepalive 128;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port} backlog=1024;
    location / {
      proxy_pass http://be;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}
`;
}
