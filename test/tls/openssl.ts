/** The openssl CLI, as a client and certificate reader for the TLS tests (Debian's `openssl`). */
import { execFile, execFileSync } from 'node:child_process';

export interface Handshake {
  /** The server's leaf certificate, PEM. */
  certPem: string;
  /** `Verify return code: 0 (ok)` against the CA file given. */
  verified: boolean;
  output: string;
}

/** `openssl s_client` to 127.0.0.1:port, with SNI `servername` (none when null). */
export function sClient(port: number, servername: string | null, caFile?: string): Promise<Handshake> {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, servername === null ? '-noservername' : '-servername'];
  if (servername !== null) args.push(servername, '-verify_hostname', servername);
  if (caFile) args.push('-CAfile', caFile);
  return new Promise((resolve, reject) => {
    const child = execFile('openssl', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      const output = `${stdout}\n${stderr}`;
      const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(stdout);
      if (!m) {
        reject(new Error(`openssl s_client got no certificate from port ${port}: ${err?.message ?? ''}\n${output}`));
        return;
      }
      resolve({ certPem: `${m[0]}\n`, verified: /Verify return code: 0 \(ok\)/.test(stdout), output });
    });
    child.stdin?.end();
  });
}

/** Subject, issuer, serial and end date of a PEM certificate, by `openssl x509`. */
export function x509(pem: string): { subject: string; issuer: string; serial: string; notAfter: Date; text: string } {
  const out = execFileSync(
    'openssl',
    ['x509', '-noout', '-subject', '-issuer', '-serial', '-enddate', '-ext', 'subjectAltName'],
    {
      input: pem,
    },
  ).toString();
  const field = (name: string) => new RegExp(`^${name}=\\s*(.*)$`, 'm').exec(out)?.[1] ?? '';
  return {
    subject: field('subject'),
    issuer: field('issuer'),
    serial: field('serial'),
    notAfter: new Date(field('notAfter')),
    text: out,
  };
}

/** A self-signed certificate and key for `host`, as a user would make with openssl. */
export function selfSigned(host: string, certFile: string, keyFile: string, days = 30): void {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      String(days),
      '-subj',
      `/CN=${host}`,
      '-addext',
      `subjectAltName=DNS:${host}`,
    ],
    { stdio: 'ignore' },
  );
}
