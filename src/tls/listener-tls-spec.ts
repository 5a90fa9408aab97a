/**
 * A listener's TLS settings from its recorded spec (written by src/model/listener-tls-spec.ts):
 * what the daemon sends to the data plane and what `status` reads certificate expiry from.
 */
import { Duration } from '../util/duration.js';
import { ACME_CHALLENGES, type AcmeChallenge, type CertificateSpec, type ListenerTls } from './tls-settings.js';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** undefined when the listener has no TLS; throws naming the listener when the spec is malformed. */
export function listenerTlsFromSpec(listener: string, spec: Record<string, unknown>): ListenerTls | undefined {
  const tls = spec.tls;
  if (tls === undefined || tls === null) return undefined;
  const bad = (what: string) =>
    new Error(`listener "${listener}": recorded tls settings are malformed (${what}); run \`groundwork apply\` again`);
  if (!isObj(tls) || !Array.isArray(tls.certificates)) throw bad('no certificates');
  const certificates = tls.certificates.map((c, i): CertificateSpec => {
    if (!isObj(c) || !Array.isArray(c.hosts)) throw bad(`certificate ${i}`);
    const hosts = c.hosts.filter((h): h is string => typeof h === 'string');
    const acme = isObj(c.acme) ? c.acme : {};
    switch (c.source) {
      case 'files': {
        const cert = str(c.cert);
        const key = str(c.key);
        if (cert === null || key === null) throw bad(`certificate ${i} has no cert or key`);
        return { hosts, source: { kind: 'files', cert, key } };
      }
      case 'internal':
        return { hosts, source: { kind: 'internal' } };
      case 'acme': {
        const directory = str(acme.directory);
        if (directory === null) throw bad(`certificate ${i} has no ACME directory`);
        // Specs recorded before the challenge was a setting used HTTP-01.
        const challenge: AcmeChallenge | undefined =
          acme.challenge === undefined ? 'http-01' : ACME_CHALLENGES.find((c) => c === acme.challenge);
        if (challenge === undefined) throw bad(`certificate ${i} has challenge ${String(acme.challenge)}`);
        return {
          hosts,
          source: {
            kind: 'acme',
            directory,
            email: str(acme.email),
            directoryCa: str(acme.ca),
            challenge,
          },
        };
      }
      default:
        throw bad(`certificate ${i} has source ${String(c.source)}`);
    }
  });
  const hsts = str(tls.hsts);
  return {
    certificates,
    defaultHost: str(tls.default),
    hsts:
      hsts === null
        ? null
        : {
            maxAgeSeconds: Math.round(Duration.parse(hsts).toSeconds()),
            includeSubdomains: tls.hsts_subdomains === true,
          },
  };
}
