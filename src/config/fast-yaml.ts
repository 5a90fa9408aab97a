/**
 * The fast reader of the loader: js-yaml reads a large stack file about ten times faster than
 * the `yaml` library, but without positions and with rules of its own for what is an error.
 * load.ts uses it only to find out, quickly, that a file has no problem at all; for every other
 * file it takes the precise path, so diagnostics never depend on this reader.
 *
 * The reader therefore declines (returns a reason) whenever the two parsers could disagree:
 * text with YAML features where js-yaml differs (tags, anchors and aliases, explicit or
 * collection keys, directives, several documents, tabs, lone CRs and other line breaks, flow
 * collections and quoted scalars over several lines, comments glued to a closing quote or
 * bracket, lines past the 1024 characters of an implicit key), and anything js-yaml itself
 * refuses (syntax errors, duplicate keys, nesting deeper than 100). test/config/fast-path.test.ts
 * holds the two paths to the same result.
 * Plain scalars are resolved by the YAML 1.2 core schema of `yaml` (plain-scalar.ts), which has
 * no merge type: `<<` stays an ordinary key, which the schema then reports as unknown.
 */
import { load, Schema, Type, type EventType, type State } from 'js-yaml';
import { resolvePlainScalar } from './plain-scalar.js';

/**
 * One type for every plain scalar that is not text. It has a private tag, so an explicit tag
 * such as `!!int` is unknown to js-yaml and makes it throw (the pre-check declines tags first).
 */
const coreScalars = new Type('tag:groundwork.invalid,2024:core-scalar', {
  kind: 'scalar',
  resolve: (s: unknown) => typeof s === 'string' && typeof resolvePlainScalar(s) !== 'string',
  construct: (s: string) => resolvePlainScalar(s),
});
const CORE_SCHEMA = new Schema({ implicit: [coreScalars] });

/**
 * Text the fast reader declines, found by a scan that may over-match: then the precise path
 * just takes longer. Node properties (`!tag`, `&anchor`), aliases and explicit keys start after
 * white space, a flow indicator or a `:`; a flow collection used as a key ends right before its `:`.
 */
const DECLINED: readonly (readonly [RegExp, string])[] = [
  [/(?:^|[\s[{,:])[!&*]/, 'a tag, an anchor or an alias'],
  [/(?:^|[\s[{,:])\?(?:\s|$)/, 'an explicit key (`? `)'],
  [/[\]}][ \t]*:/, 'a collection used as a key'],
  [/^(?:%|---|\.\.\.)/m, 'a directive or a document marker'],
  [/["'\]}]#/, 'a comment not separated from a quoted scalar or a flow collection'],
  [/\t/, 'a tab'],
  [/\r(?!\n)/, 'a CR that is not part of a CRLF'],
  [/[\x85\u2028\u2029\ufeff]/, 'a line or paragraph separator or a byte order mark inside the text'],
];

/** `yaml` limits an implicit key to 1024 characters; js-yaml has no such limit. */
const MAX_LINE = 1024;

/**
 * All of DECLINED in one pass over the text. With the m flag a `^` also matches after a line
 * break, which every pattern above treats as white space already.
 */
const ANY_DECLINED = new RegExp(DECLINED.map(([re]) => `(?:${re.source})`).join('|'), 'm');

/** Why the fast reader declines this text, or undefined when it reads it. */
export function fastReaderDeclines(text: string): string | undefined {
  if (ANY_DECLINED.test(text)) {
    for (const [re, why] of DECLINED) if (re.test(text)) return `the text contains ${why}`;
  }
  // A loop, not a regular expression: /[^\n]{1025}/ tries 1025 characters at every offset.
  for (let start = 0; start < text.length;) {
    const nl = text.indexOf('\n', start);
    const end = nl === -1 ? text.length : nl;
    if (end - start > MAX_LINE) return `the text contains a line longer than ${MAX_LINE} characters`;
    start = end + 1;
  }
  return undefined;
}

export type FastRead = { value: unknown } | { declined: string };

class Declined extends Error {}

/**
 * Stops the reader at a flow collection or quoted scalar that spans lines: `yaml` requires their
 * continuation lines to be indented past the enclosing block, js-yaml does not check.
 */
function multiLineFlowGuard(): (event: EventType, state: State) => void {
  const starts: number[] = [];
  return (event, state) => {
    if (event === 'open') {
      starts.push(state.position);
      return;
    }
    const { input } = state;
    let at = starts.pop() ?? state.position;
    // The node starts at its first character past white space and comments (tags and anchors are declined).
    for (let c = input.charCodeAt(at); at < state.position; c = input.charCodeAt(++at)) {
      if (c === 0x23 /* # */) {
        while (at < state.position && input.charCodeAt(at) !== 0x0a) at++;
        continue;
      }
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d) break;
    }
    const c = input.charCodeAt(at);
    const flow =
      c === 0x7b /* { */ ||
      c === 0x5b /* [ */ ||
      ((c === 0x22 /* " */ || c === 0x27) /* ' */ && state.kind === 'scalar');
    if (flow) {
      const nl = input.indexOf('\n', at);
      if (nl !== -1 && nl < state.position)
        throw new Declined('the text contains a flow collection or quoted scalar over several lines');
    }
  };
}

/** The document as plain values, or why the fast reader declines it. Never throws for bad input. */
export function fastReadYaml(text: string): FastRead {
  const declined = fastReaderDeclines(text);
  if (declined !== undefined) return { declined };
  try {
    // json: false makes a duplicate key an error.
    // A warning of js-yaml (deficient indentation, say) is a question the precise path answers.
    const onWarning = (w: Error) => {
      throw new Declined(`js-yaml warns: ${w.message.split('\n')[0]}`);
    };
    return { value: load(text, { schema: CORE_SCHEMA, json: false, listener: multiLineFlowGuard(), onWarning }) };
  } catch (e) {
    if (e instanceof Declined) return { declined: e.message };
    return { declined: `js-yaml: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}` };
  }
}
