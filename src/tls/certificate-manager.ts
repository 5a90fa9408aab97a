/**
 * The certificates of the proxy's TLS listeners, kept current: files are reloaded when they
 * change, internal (local CA) and ACME certificates are issued when missing and renewed at two
 * thirds of their lifetime. A listener asks for the context of a server name at each handshake
 * (SNI), so a renewed certificate applies to new connections at once and open connections keep
 * theirs: a hot swap that drops nothing.
 *
 *   const certs = new CertificateManager({ storeDir: tlsStoreDir(stateDir), clock, logger });
 *   await certs.configure('websecure', tls);       // files and internal certificates are ready here
 *   certs.context('websecure', 'web.lab.test');    // at each handshake
 *
 * ACME certificates are obtained in the background (the challenge needs the listeners bound);
 * `idle()` resolves when no issuance is in flight. Failures are retried with backoff and shown
 * in `info()` (status).
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import tls from 'node:tls';
import type { Timer, Timers } from '../util/clock.js';
import { Duration } from '../util/duration.js';
import { errorMessage } from '../util/error-message.js';
import type { Logger } from '../util/logger.js';
import type { AcmeIssuer } from './acme-issuer.js';
import { ChallengeResponder } from './challenge-responder.js';
import { acmeAccountsDir, certificateFiles, localCaDir } from './certificate-files.js';
import type { IssuedCertificate, LocalCa } from './local-ca.js';
import { writeCertificateStatus, type CertificateInfo } from './certificate-status.js';
import { writePrivateFile, writePublicFile } from './secure-file.js';
import { hostMatches, tlsProblems, type CertificateSpec, type ListenerTls } from './tls-settings.js';

export interface CertificateManagerOptions {
  /** The store (`<state>/tls`): local CA, issued certificates, ACME account keys. */
  storeDir: string;
  /** Wall time decides validity and renewal; its timer runs the checks. */
  clock: Timers;
  logger: Logger;
  /** How often files are checked for changes and certificates for renewal. Default 1m. */
  checkEvery?: Duration;
  /** Lifetime of local-CA leaf certificates. Default 7d. */
  internalLifetime?: Duration;
  /** First retry after a failed issuance; doubles up to 1h. Default 30s. */
  retryAfter?: Duration;
}

interface Loaded {
  certPem: string;
  keyPem: string;
  context: tls.SecureContext;
  notBefore: Date;
  notAfter: Date;
  /** size + mtime of both files, for `files` (reload on change). */
  stamp: string;
}

interface Entry {
  spec: CertificateSpec;
  current: Loaded | undefined;
  error: string | null;
  failures: number;
  /** Wall ms before which no retry is made after a failure. */
  retryAt: number;
  inFlight: Promise<void> | undefined;
}

interface ListenerCerts {
  tls: ListenerTls;
  entries: Entry[];
}

/** Renewal at two thirds of the lifetime, as Caddy and certbot do (30 of 90 days left). */
export function renewalTime(notBefore: Date, notAfter: Date): Date {
  return new Date(notBefore.getTime() + ((notAfter.getTime() - notBefore.getTime()) * 2) / 3);
}

function stampOf(files: { cert: string; key: string }): string {
  const a = statSync(files.cert);
  const b = statSync(files.key);
  return `${a.size}:${a.mtimeMs}:${b.size}:${b.mtimeMs}`;
}

function load(certPem: string, keyPem: string, stamp: string, what: string): Loaded {
  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' });
  } catch (e) {
    throw new Error(`${what}: the certificate and key cannot be used together (${errorMessage(e)}); check both files`);
  }
  const leaf = new X509Certificate(certPem);
  return {
    certPem,
    keyPem,
    context,
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
    stamp,
  };
}

export class CertificateManager {
  /** ACME challenge answers: plain HTTP listeners serve HTTP-01 ones, TLS listeners TLS-ALPN-01 ones. */
  readonly challenges = new ChallengeResponder();
  private readonly listeners = new Map<string, ListenerCerts>();
  private readonly changeListeners = new Set<(listener: string) => void>();
  private readonly ticker: Timer;
  private acme: Promise<AcmeIssuer> | undefined;
  private ca: Promise<LocalCa> | undefined;
  private readonly internalLifetime: Duration;
  private readonly retryAfterMs: number;
  private checking: Promise<void> | undefined;

  constructor(private readonly options: CertificateManagerOptions) {
    this.internalLifetime = options.internalLifetime ?? Duration.parse('7d');
    this.retryAfterMs = (options.retryAfter ?? Duration.seconds(30)).toMilliseconds();
    this.ticker = options.clock.setInterval(
      () => void this.check(),
      (options.checkEvery ?? Duration.minutes(1)).toMilliseconds(),
      { background: true },
    );
  }

  /**
   * The local CA (created in the store on first use). It and the ACME client are loaded on first
   * use: @peculiar/x509 and acme-client would add most of the data-plane process's start time for
   * listeners that have no certificate at all.
   */
  localCa(): Promise<LocalCa> {
    this.ca ??= import('./local-ca.js').then((m) =>
      m.LocalCa.open(localCaDir(this.options.storeDir), this.options.clock),
    );
    return this.ca;
  }

  private acmeIssuer(): Promise<AcmeIssuer> {
    this.acme ??= import('./acme-issuer.js').then(
      (m) => new m.AcmeIssuer(acmeAccountsDir(this.options.storeDir), this.challenges, this.options.logger),
    );
    return this.acme;
  }

  /**
   * Takes a listener's TLS settings: loads file certificates and issues missing internal ones
   * (throws, naming the listener and file, when one cannot be had); starts ACME orders.
   */
  async configure(listener: string, settings: ListenerTls): Promise<void> {
    const problems = tlsProblems(listener, settings);
    if (problems.length) throw new Error(problems.join('\n'));
    const old = this.listeners.get(listener);
    const entries = settings.certificates.map((spec): Entry => {
      const same = old?.entries.find((e) => JSON.stringify(e.spec) === JSON.stringify(spec));
      return same ?? { spec, current: undefined, error: null, failures: 0, retryAt: 0, inFlight: undefined };
    });
    this.listeners.set(listener, { tls: settings, entries });
    const failures: string[] = [];
    await Promise.all(
      entries.map(async (e) => {
        if (e.current !== undefined) return;
        if (e.spec.source.kind === 'acme') {
          this.tryStored(listener, e);
          if (this.dueForRenewal(e)) this.startIssue(listener, e);
          return;
        }
        try {
          await this.refresh(listener, e);
        } catch (err) {
          failures.push(errorMessage(err));
        }
      }),
    );
    this.persistStatus();
    if (failures.length) throw new Error(failures.join('\n'));
    this.notify(listener);
  }

  remove(listener: string): void {
    if (this.listeners.delete(listener)) this.persistStatus();
  }

  /** The context for a server name on a listener (SNI), else the listener's default. */
  context(listener: string, servername: string | undefined): tls.SecureContext | undefined {
    const l = this.listeners.get(listener);
    if (l === undefined) return undefined;
    const name = servername?.toLowerCase();
    if (name) {
      for (const exact of [true, false]) {
        for (const e of l.entries) {
          if (e.current === undefined) continue;
          if (e.spec.hosts.some((h) => (exact ? h === name : hostMatches(h, name)))) return e.current.context;
        }
      }
    }
    return this.defaultEntry(l)?.current?.context;
  }

  /** PEMs of the default certificate of a listener (for clients that send no server name). */
  defaultPems(listener: string): { cert: string; key: string } | undefined {
    const l = this.listeners.get(listener);
    const cur = l === undefined ? undefined : this.defaultEntry(l)?.current;
    return cur === undefined ? undefined : { cert: cur.certPem, key: cur.keyPem };
  }

  /** Called with the listener's name when one of its certificates changed (issued, renewed, reloaded). */
  onChange(fn: (listener: string) => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  info(): CertificateInfo[] {
    const out: CertificateInfo[] = [];
    for (const [listener, l] of this.listeners) {
      for (const e of l.entries) {
        out.push({
          listener,
          hosts: [...e.spec.hosts],
          source: e.spec.source.kind,
          notAfter: e.current?.notAfter.toISOString() ?? null,
          renewAt:
            e.current === undefined || e.spec.source.kind === 'files'
              ? null
              : renewalTime(e.current.notBefore, e.current.notAfter).toISOString(),
          error: e.error,
        });
      }
    }
    return out;
  }

  /** Resolves when no issuance or check is in flight. */
  async idle(): Promise<void> {
    for (;;) {
      const pending = [...this.listeners.values()].flatMap((l) => l.entries.map((e) => e.inFlight));
      if (this.checking) pending.push(this.checking);
      const waiting = pending.filter((p): p is Promise<void> => p !== undefined);
      if (waiting.length === 0) return;
      await Promise.all(waiting);
    }
  }

  /** One pass: reload changed files, renew what is due, retry failures whose backoff ended. */
  check(): Promise<void> {
    this.checking ??= this.checkAll().finally(() => (this.checking = undefined));
    return this.checking;
  }

  close(): void {
    this.ticker.cancel();
  }

  private async checkAll(): Promise<void> {
    for (const [listener, l] of [...this.listeners]) {
      for (const e of l.entries) {
        if (e.inFlight) continue;
        if (e.spec.source.kind === 'files') {
          try {
            const files = certificateFiles(this.options.storeDir, e.spec);
            if (e.current === undefined || stampOf(files) !== e.current.stamp) await this.refresh(listener, e);
          } catch (err) {
            this.failed(listener, e, err);
          }
        } else if (this.dueForRenewal(e) && this.options.clock.now().getTime() >= e.retryAt) {
          this.startIssue(listener, e);
        }
      }
    }
  }

  private dueForRenewal(e: Entry): boolean {
    const cur = e.current;
    if (cur === undefined) return true;
    return this.options.clock.now().getTime() >= renewalTime(cur.notBefore, cur.notAfter).getTime();
  }

  private defaultEntry(l: ListenerCerts): Entry | undefined {
    const want = l.tls.defaultHost;
    const ready = l.entries.filter((e) => e.current !== undefined);
    if (want !== null) {
      const e = ready.find((x) => x.spec.hosts.includes(want));
      if (e) return e;
    }
    return ready[0];
  }

  /** Files: (re)load. Internal: the stored one while it is not due, else a new one. */
  private async refresh(listener: string, e: Entry): Promise<void> {
    const files = certificateFiles(this.options.storeDir, e.spec);
    const what = `listener "${listener}", certificate for ${e.spec.hosts.join(', ')}`;
    if (e.spec.source.kind === 'files') {
      let certPem: string;
      let keyPem: string;
      try {
        certPem = readFileSync(files.cert, 'utf8');
        keyPem = readFileSync(files.key, 'utf8');
      } catch (err) {
        throw new Error(
          `${what}: cannot read ${files.cert} or ${files.key} (${errorMessage(err)}); check the paths under tls.certificates`,
        );
      }
      const replaced = e.current !== undefined;
      e.current = load(certPem, keyPem, stampOf(files), what);
      e.error = null;
      if (replaced) {
        this.options.logger.log('info', 'tls: certificate files reloaded', { listener, hosts: e.spec.hosts.join(',') });
        this.notify(listener);
      }
      return;
    }
    this.tryStored(listener, e);
    if (!this.dueForRenewal(e)) return;
    const ca = await this.localCa();
    await this.store(listener, e, await ca.issue(e.spec.hosts, this.internalLifetime), what);
  }

  /** Uses the stored certificate of an issued entry, if there is one for these hosts. */
  private tryStored(listener: string, e: Entry): void {
    const files = certificateFiles(this.options.storeDir, e.spec);
    if (e.current !== undefined || !existsSync(files.cert) || !existsSync(files.key)) return;
    try {
      e.current = load(
        readFileSync(files.cert, 'utf8'),
        readFileSync(files.key, 'utf8'),
        stampOf(files),
        `listener "${listener}"`,
      );
    } catch (err) {
      this.options.logger.log('warn', 'tls: a stored certificate is unusable; issuing a new one', {
        listener,
        file: files.cert,
        error: errorMessage(err),
      });
    }
  }

  private async store(listener: string, e: Entry, issued: IssuedCertificate, what: string): Promise<void> {
    const files = certificateFiles(this.options.storeDir, e.spec);
    writePrivateFile(files.key, issued.keyPem);
    writePublicFile(files.cert, issued.certPem);
    const renewed = e.current !== undefined;
    e.current = load(issued.certPem, issued.keyPem, stampOf(files), what);
    e.error = null;
    e.failures = 0;
    this.options.logger.log('info', renewed ? 'tls: certificate renewed' : 'tls: certificate issued', {
      listener,
      hosts: e.spec.hosts.join(','),
      source: e.spec.source.kind,
      notAfter: issued.notAfter.toISOString(),
    });
    this.notify(listener);
  }

  private startIssue(listener: string, e: Entry): void {
    if (e.inFlight) return;
    const what = `listener "${listener}", certificate for ${e.spec.hosts.join(', ')}`;
    const run = async () => {
      const s = e.spec.source;
      if (s.kind === 'acme') {
        const issued = await (
          await this.acmeIssuer()
        ).issue(
          { directory: s.directory, email: s.email, directoryCa: s.directoryCa, challenge: s.challenge },
          e.spec.hosts,
        );
        await this.store(listener, e, issued, what);
      } else if (s.kind === 'internal') {
        const ca = await this.localCa();
        await this.store(listener, e, await ca.issue(e.spec.hosts, this.internalLifetime), what);
      }
    };
    e.inFlight = run()
      .catch((err: unknown) => this.failed(listener, e, err))
      .finally(() => (e.inFlight = undefined));
  }

  private failed(listener: string, e: Entry, err: unknown): void {
    e.failures++;
    const wait = Math.min(this.retryAfterMs * 2 ** (e.failures - 1), 3_600_000);
    e.retryAt = this.options.clock.now().getTime() + wait;
    e.error = `${errorMessage(err)} (retry in ${Duration.milliseconds(wait).toString()})`;
    this.persistStatus();
    this.options.logger.log('error', 'tls: certificate not obtained', {
      listener,
      hosts: e.spec.hosts.join(','),
      source: e.spec.source.kind,
      error: e.error,
    });
  }

  private notify(listener: string): void {
    this.persistStatus();
    for (const fn of this.changeListeners) fn(listener);
  }

  /** For `status` (certificate-status.ts); a failure to write it must not stop serving. */
  private persistStatus(): void {
    try {
      writeCertificateStatus(this.options.storeDir, {
        updatedAt: this.options.clock.now().toISOString(),
        certificates: this.info(),
      });
    } catch (e) {
      this.options.logger.log('warn', 'tls: status file not written', { error: errorMessage(e) });
    }
  }
}
