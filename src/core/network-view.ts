/**
 * What the routes page shows beyond `status` (which has listeners and routes): the lab's DNS
 * zone with every record it serves (declared in the stack file, and the A/SRV records of service
 * addresses), and the certificates the listeners serve with their expiry (the data plane's status
 * file, src/tls/certificate-status.ts: host names and dates, never a key).
 */
import type { DnsRecord } from '../dns/dns-record.js';
import { dnsSettingsFromState } from '../dns/dns-settings.js';
import { serviceAddressesFromState, serviceRecords } from '../dns/service-records.js';
import type { ResourceRow } from '../store/store.js';
import { readCertificateStatus, type CertificateInfo } from '../tls/certificate-status.js';

export interface DnsRecordView {
  name: string;
  type: DnsRecord['type'];
  ttl: number;
  /** The record's data as a zone file writes it (`127.77.0.2`, `0 0 8080 web.lab.internal`). */
  value: string;
  /** declared: the stack file's `dns.records`; service: made from a service's stable address. */
  origin: 'declared' | 'service';
}

export interface NetworkView {
  dns: { zone: string; listen: string; records: DnsRecordView[]; problems: string[] } | null;
  certificates: CertificateInfo[];
}

function valueOf(r: DnsRecord): string {
  switch (r.type) {
    case 'A':
    case 'AAAA':
      return r.address;
    case 'CNAME':
      return r.target;
    case 'TXT':
      return JSON.stringify(r.text);
    case 'SRV':
      return `${r.priority} ${r.weight} ${r.port} ${r.target}`;
    case 'MX':
      return `${r.priority} ${r.exchange}`;
  }
}

export function networkView(rows: ResourceRow[], stateDir: string): NetworkView {
  const settings = dnsSettingsFromState(rows);
  const view = (r: DnsRecord, origin: DnsRecordView['origin']): DnsRecordView => ({
    name: r.name,
    type: r.type,
    ttl: r.ttl,
    value: valueOf(r),
    origin,
  });
  return {
    dns: settings
      ? {
          zone: settings.zone,
          listen: `${settings.listen.host}:${settings.listen.port}`,
          records: [
            ...settings.records.map((r) => view(r, 'declared')),
            ...serviceRecords(settings.zone, serviceAddressesFromState(rows)).map((r) => view(r, 'service')),
          ],
          problems: settings.problems,
        }
      : null,
    certificates: readCertificateStatus(stateDir)?.certificates ?? [],
  };
}
