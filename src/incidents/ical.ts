/**
 * iCalendar (RFC 5545) export of on-call shifts, so people see them in their calendar. Times are
 * written in UTC (`...Z`): every calendar shows them in its own zone, and no VTIMEZONE is needed.
 */
import { createHash } from 'node:crypto';
import type { Shift } from './schedule.js';

function stamp(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** TEXT values escape backslash, semicolon, comma and newline (RFC 5545 3.3.11). */
function text(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/;/g, '\\;').replace(/,/g, '\\,').replace(/\r?\n/g, '\\n');
}

/** Lines longer than 75 octets are folded: CRLF and a space (RFC 5545 3.1). */
function fold(line: string): string {
  const bytes = Buffer.from(line, 'utf8');
  if (bytes.length <= 75) return line;
  const parts: string[] = [];
  let start = 0;
  let limit = 75;
  while (start < bytes.length) {
    let end = Math.min(bytes.length, start + limit);
    // Never cut a UTF-8 sequence: back up to a lead byte.
    while (end < bytes.length && ((bytes[end] as number) & 0xc0) === 0x80) end--;
    parts.push(bytes.subarray(start, end).toString('utf8'));
    start = end;
    limit = 74; // continuation lines start with a space
  }
  return parts.join('\r\n ');
}

export function shiftsToIcs(scheduleName: string, shifts: readonly Shift[], generatedAt: Date): string {
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Groundwork//On-call//EN',
    'CALSCALE:GREGORIAN',
    `X-WR-CALNAME:${text(`On call: ${scheduleName}`)}`,
  ];
  for (const s of shifts) {
    const uid = createHash('sha256')
      .update(`${scheduleName}|${s.who}|${s.from.toISOString()}`)
      .digest('hex')
      .slice(0, 24);
    lines.push(
      'BEGIN:VEVENT',
      `UID:${uid}@groundwork`,
      `DTSTAMP:${stamp(generatedAt)}`,
      `DTSTART:${stamp(s.from)}`,
      `DTEND:${stamp(s.to)}`,
      `SUMMARY:${text(`On call (${scheduleName}): ${s.who}`)}`,
      `DESCRIPTION:${text(`${s.who} is on call for ${scheduleName} (${s.source}).`)}`,
      'END:VEVENT',
    );
  }
  lines.push('END:VCALENDAR');
  return lines.map(fold).join('\r\n') + '\r\n';
}
