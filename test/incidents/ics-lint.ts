/**
 * A strict line-level check of an iCalendar file against RFC 5545, for what a parser forgives:
 * CRLF line ends (3.1), lines of at most 75 octets folded with CRLF + one space or tab (3.1),
 * content lines `NAME[;PARAM=...]:VALUE` (3.1), balanced BEGIN/END, VERSION:2.0 and PRODID once in
 * the calendar (3.6, 3.7.3-4), each VEVENT with exactly one UID, DTSTAMP and DTSTART, DTEND after
 * DTSTART and never with DURATION (3.6.1), UTC date-times in form #2 (3.3.5), TEXT values with ; ,
 * and \ escaped (3.3.11), no control characters but HTAB (3.1), and UIDs unique in the file.
 * Returns every problem, each with its line number; [] when the file passes.
 */
export interface IcsEvent {
  uid: string;
  dtstart: string;
  dtend: string;
  summary: string;
}

const NAME = /^[A-Za-z0-9-]+$/;
const PARAM = /^[A-Za-z0-9-]+=(?:"[^"\p{Cc}]*"|[^";:,\p{Cc}]*)(?:,(?:"[^"\p{Cc}]*"|[^";:,\p{Cc}]*))*$/u;
const UTC_DATE_TIME = /^\d{8}T\d{6}Z$/;
const TEXT_PROPS = new Set(['SUMMARY', 'DESCRIPTION', 'X-WR-CALNAME', 'LOCATION', 'COMMENT']);

export function lintIcs(ics: string): { problems: string[]; events: IcsEvent[] } {
  const problems: string[] = [];
  if (!ics.endsWith('\r\n')) problems.push('the file does not end with CRLF');
  const physical = ics.split('\r\n');
  physical.pop(); // after the last CRLF
  // Unfold (3.1): a line starting with a space or tab continues the one before.
  const lines: { n: number; text: string }[] = [];
  physical.forEach((raw, i) => {
    const n = i + 1;
    if (/[\r\n]/.test(raw)) problems.push(`line ${n}: a bare CR or LF (lines end with CRLF)`);
    if (Buffer.byteLength(raw, 'utf8') > 75) problems.push(`line ${n}: ${Buffer.byteLength(raw)} octets (at most 75)`);
    if (raw.startsWith(' ') || raw.startsWith('\t')) {
      const last = lines.at(-1);
      if (!last) problems.push(`line ${n}: a continuation with no line before it`);
      else last.text += raw.slice(1);
    } else lines.push({ n, text: raw });
  });

  const stack: string[] = [];
  const events: IcsEvent[] = [];
  let calendarProps = new Map<string, number>();
  let event: Map<string, { value: string; n: number }[]> | undefined;
  const uids = new Set<string>();
  for (const { n, text } of lines) {
    if ([...text].some((c) => c !== '\t' && /\p{Cc}/u.test(c))) problems.push(`line ${n}: a control character`);
    const colon = text.search(/:(?=(?:[^"]*"[^"]*")*[^"]*$)/);
    if (colon <= 0) {
      problems.push(`line ${n}: not NAME:VALUE`);
      continue;
    }
    const [name = '', ...params] = text.slice(0, colon).split(';');
    const value = text.slice(colon + 1);
    if (!NAME.test(name)) problems.push(`line ${n}: bad property name '${name}'`);
    for (const p of params) if (!PARAM.test(p)) problems.push(`line ${n}: bad parameter '${p}'`);
    const upper = name.toUpperCase();
    if (upper === 'BEGIN') {
      stack.push(value.toUpperCase());
      if (value.toUpperCase() === 'VCALENDAR') calendarProps = new Map();
      if (value.toUpperCase() === 'VEVENT') event = new Map();
      if (stack.length === 1 && value.toUpperCase() !== 'VCALENDAR')
        problems.push(`line ${n}: the file must begin with BEGIN:VCALENDAR`);
      continue;
    }
    if (upper === 'END') {
      const open = stack.pop();
      if (open !== value.toUpperCase()) problems.push(`line ${n}: END:${value} closes ${open ?? 'nothing'}`);
      if (value.toUpperCase() === 'VEVENT' && event) {
        const one = (p: string): string | undefined => {
          const got = event?.get(p) ?? [];
          if (got.length !== 1) problems.push(`line ${n}: the VEVENT has ${got.length} ${p} (exactly one is required)`);
          return got[0]?.value;
        };
        const uid = one('UID') ?? '';
        const stamp = one('DTSTAMP') ?? '';
        const start = one('DTSTART') ?? '';
        const ends = event.get('DTEND') ?? [];
        if (ends.length > 1) problems.push(`line ${n}: the VEVENT has ${ends.length} DTEND`);
        if (ends.length && event.has('DURATION')) problems.push(`line ${n}: DTEND and DURATION together`);
        const end = ends[0]?.value ?? '';
        for (const [p, v] of [
          ['DTSTAMP', stamp],
          ['DTSTART', start],
          ['DTEND', end],
        ] as const)
          if (!UTC_DATE_TIME.test(v))
            problems.push(`line ${n}: ${p} '${v}' is not a UTC date-time like 20261201T090000Z`);
        if (end && !(end > start)) problems.push(`line ${n}: DTEND ${end} is not after DTSTART ${start}`);
        if (uids.has(uid)) problems.push(`line ${n}: UID ${uid} is used twice`);
        uids.add(uid);
        events.push({ uid, dtstart: start, dtend: end, summary: event.get('SUMMARY')?.[0]?.value ?? '' });
        event = undefined;
      }
      continue;
    }
    if (TEXT_PROPS.has(upper)) {
      // What is left once the valid escapes are taken out may hold no ; , or backslash.
      const bare = value.replace(/\\[\\;,nN]/g, '');
      if (/[;,]/.test(bare)) problems.push(`line ${n}: ${upper} has an unescaped ; or ,`);
      if (bare.includes('\\')) problems.push(`line ${n}: ${upper} has a backslash that escapes nothing`);
    }
    if (stack.at(-1) === 'VEVENT' && event) {
      const list = event.get(upper) ?? [];
      list.push({ value, n });
      event.set(upper, list);
    } else if (stack.at(-1) === 'VCALENDAR') calendarProps.set(upper, (calendarProps.get(upper) ?? 0) + 1);
    else if (stack.length === 0) problems.push(`line ${n}: ${upper} outside BEGIN:VCALENDAR`);
  }
  if (stack.length) problems.push(`the file ends with ${stack.join(', ')} still open`);
  if (lines[0]?.text !== 'BEGIN:VCALENDAR') problems.push('line 1: the file must begin with BEGIN:VCALENDAR');
  if (lines.at(-1)?.text !== 'END:VCALENDAR') problems.push('the file must end with END:VCALENDAR');
  for (const p of ['VERSION', 'PRODID'])
    if (calendarProps.get(p) !== 1) problems.push(`the calendar has ${calendarProps.get(p) ?? 0} ${p} (exactly one)`);
  if (!lines.some((l) => l.text === 'VERSION:2.0')) problems.push('VERSION is not 2.0');
  return { problems, events };
}
