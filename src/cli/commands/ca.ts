/**
 * `groundwork ca export`: the local CA's root certificate (the issuer of `source: internal`
 * certificates), to add to the trust store of the machines that visit the lab. Made on first
 * use, so it can be trusted before the first apply. Never the key.
 */
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { LocalCa } from '../../tls/local-ca.js';
import { localCaDir, tlsStoreDir } from '../../tls/certificate-files.js';
import { systemClock } from '../../util/clock.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { EXIT, UserError } from '../io.js';
import { stateDirOf } from '../workspace.js';

export const caCommand = defineCommand({
  name: 'ca',
  args: ['export'],
  summary: "Export the local CA's root certificate (to trust `source: internal` certificates)",
  usage: 'ca export [-f FILE] [--out FILE] [--json]',
  flags: {
    ...STACK_FLAGS,
    out: { type: 'string', description: 'Write the PEM to this file instead of stdout', valueName: 'FILE' },
  },
  async run(flags, pos, io) {
    if (pos[0] !== 'export')
      throw new UserError(
        `\`groundwork ca\` takes one action, export, found ${pos[0] ? `\`${pos[0]}\`` : 'none'}; e.g. \`groundwork ca export > lab-root.crt\``,
        EXIT.usage,
      );
    const ca = await LocalCa.open(localCaDir(tlsStoreDir(stateDirOf(io, flags))), systemClock);
    const cert = new X509Certificate(ca.rootPem);
    const out = typeof flags.out === 'string' ? path.resolve(io.cwd, flags.out) : null;
    if (out !== null) writeFileSync(out, ca.rootPem, { mode: 0o644 });
    if (flags.json) {
      io.stdout(
        `${JSON.stringify({ file: ca.rootFile, subject: cert.subject, notAfter: new Date(cert.validTo).toISOString(), sha256: cert.fingerprint256, written: out, pem: ca.rootPem }, null, 2)}\n`,
      );
      return EXIT.ok;
    }
    if (out === null) io.stdout(ca.rootPem);
    io.stderr(
      `${out === null ? 'Root' : `Wrote ${out}: root`} certificate ${cert.subject.replace(/\n/g, ', ')} (SHA-256 ${cert.fingerprint256}), valid until ${cert.validTo}.\n` +
        'Trust it on Debian/Ubuntu with: sudo cp FILE /usr/local/share/ca-certificates/groundwork-lab.crt && sudo update-ca-certificates\n',
    );
    return EXIT.ok;
  },
});
