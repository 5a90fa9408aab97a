/**
 * A directory as the tar stream the engine's build endpoint takes as its context, honouring
 * .dockerignore (patterns with *, ?, **, and ! exceptions; the last matching pattern wins). Files
 * are streamed, not loaded whole; ustar headers, with PAX records for long names.
 */
import { createReadStream, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';

const BLOCK = 512;

/** Tars `dir` for a build. `dockerfile` (relative to dir) and .dockerignore are always included. */
export function buildContext(dir: string, dockerfile = 'Dockerfile'): Readable {
  const ignoreFile = path.join(dir, '.dockerignore');
  const ignored = dockerIgnore(existsSync(ignoreFile) ? readFileSync(ignoreFile, 'utf8') : '');
  const keep = new Set([normalize(dockerfile), '.dockerignore']);
  return Readable.from(entries(dir, (rel) => !keep.has(rel) && ignored(rel)));
}

async function* entries(root: string, excluded: (rel: string) => boolean): AsyncGenerator<Buffer> {
  const walk = function* (rel: string): Generator<{ rel: string; stat: Stats }> {
    const abs = rel ? path.join(root, rel) : root;
    for (const name of readdirSync(abs).sort()) {
      const childRel = rel ? `${rel}/${name}` : name;
      const stat = lstatSync(path.join(root, childRel));
      const out = excluded(childRel);
      if (!out) yield { rel: childRel, stat };
      // An excluded directory may still hold an exception (`!dir/keep`), so it is walked anyway.
      if (stat.isDirectory()) yield* walk(childRel);
    }
  };
  for (const { rel, stat } of walk('')) {
    if (stat.isDirectory()) {
      yield* header(`${rel}/`, stat, '5', 0, '');
    } else if (stat.isSymbolicLink()) {
      yield* header(rel, stat, '2', 0, readlinkSync(path.join(root, rel)));
    } else if (stat.isFile()) {
      yield* header(rel, stat, '0', stat.size, '');
      let written = 0;
      for await (const chunk of createReadStream(path.join(root, rel)) as AsyncIterable<Buffer>) {
        // A file that grew while being read is cut at the size its header announced.
        const part = chunk.subarray(0, Math.max(0, stat.size - written));
        written += part.length;
        if (part.length) yield part;
      }
      if (written < stat.size) yield Buffer.alloc(stat.size - written);
      const pad = (BLOCK - (stat.size % BLOCK)) % BLOCK;
      if (pad) yield Buffer.alloc(pad);
    }
    // Sockets, fifos and devices have no place in a build context.
  }
  yield Buffer.alloc(BLOCK * 2);
}

function* header(name: string, stat: Stats, type: '0' | '2' | '5', size: number, link: string): Generator<Buffer> {
  const pax: Record<string, string> = {};
  if (Buffer.byteLength(name) > 100) pax.path = name;
  if (Buffer.byteLength(link) > 100) pax.linkpath = link;
  if (Object.keys(pax).length) {
    const body = Buffer.from(
      Object.entries(pax)
        .map(([k, v]) => paxRecord(k, v))
        .join(''),
    );
    yield ustar(`PaxHeader/${name.slice(-80)}`, 0o644, 'x', body.length, '', stat.mtimeMs);
    yield body;
    const pad = (BLOCK - (body.length % BLOCK)) % BLOCK;
    if (pad) yield Buffer.alloc(pad);
  }
  yield ustar(name, stat.mode & 0o7777, type, size, link, stat.mtimeMs);
}

/** `"<len> key=value\n"`, where len counts the whole record including its own digits. */
function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(rest) + 1;
  while (String(len).length + Buffer.byteLength(rest) !== len) len = String(len).length + Buffer.byteLength(rest);
  return `${len}${rest}`;
}

function ustar(name: string, mode: number, type: string, size: number, link: string, mtimeMs: number): Buffer {
  const b = Buffer.alloc(BLOCK);
  const str = (s: string, at: number, len: number) => {
    Buffer.from(s).copy(b, at, 0, len);
  };
  const oct = (n: number, at: number, len: number) =>
    str(
      `${Math.floor(n)
        .toString(8)
        .padStart(len - 1, '0')}\0`,
      at,
      len,
    );
  str(name, 0, 100);
  oct(mode, 100, 8);
  oct(0, 108, 8);
  oct(0, 116, 8);
  oct(size, 124, 12);
  oct(mtimeMs / 1000, 136, 12);
  b.fill(0x20, 148, 156);
  str(type, 156, 1);
  str(link, 157, 100);
  str('ustar\0', 257, 6);
  str('00', 263, 2);
  str('root', 265, 32);
  str('root', 297, 32);
  let sum = 0;
  for (const byte of b) sum += byte;
  str(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return b;
}

function normalize(p: string): string {
  return path.posix
    .normalize(p.replace(/\\/g, '/'))
    .replace(/^(\.\/|\/)+/, '')
    .replace(/\/+$/, '');
}

/** A predicate for paths (relative, `/`-separated) that .dockerignore `text` excludes. */
export function dockerIgnore(text: string): (rel: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = normalize(negate ? l.slice(1).trim() : l);
      return { negate, re: globToRegExp(pattern) };
    })
    .filter((r) => r.re !== undefined) as { negate: boolean; re: RegExp }[];
  if (!rules.length) return () => false;
  return (rel) => {
    const parts = rel.split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const r of rules) if (candidates.some((c) => r.re.test(c))) excluded = !r.negate;
    return excluded;
  };
}

function globToRegExp(pattern: string): RegExp | undefined {
  if (!pattern || pattern === '.') return undefined;
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*' && pattern[i + 1] === '*') {
      i++;
      if (pattern[i + 1] === '/') {
        i++;
        re += '(?:.*/)?';
      } else re += '.*';
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
