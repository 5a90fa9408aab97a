/**
 * How the `yaml` library, with its default options (YAML 1.2, core schema), reads an untagged
 * plain scalar: the tests of node_modules/yaml/dist/schema/core/*.js, in the order of that
 * schema (null, bool, int as 0o/decimal/0x, float as .nan/.inf, exponent, decimal). No YAML 1.1
 * forms: `yes`, `no`, `on` stay text, `0750` is the number 750, `2001-12-14` stays text, and
 * there are no `_` separators, binary or sexagesimal numbers.
 *
 * The fast path of load.ts gives this to js-yaml, so both parsers agree on every plain scalar.
 */

const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT_OCT = /^0o[0-7]+$/;
const INT = /^[-+]?[0-9]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT_NAN_INF = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

/** Whether the first character can start anything but text; every test above needs one of these. */
function mayBeNonText(c: number): boolean {
  return (
    c === 0x7e /* ~ */ ||
    c === 0x2b /* + */ ||
    c === 0x2d /* - */ ||
    c === 0x2e /* . */ ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x6e /* n */ ||
    c === 0x4e /* N */ ||
    c === 0x74 /* t */ ||
    c === 0x54 /* T */ ||
    c === 0x66 /* f */ ||
    c === 0x46
  ); /* F */
}

/** The value of a plain (unquoted, untagged) scalar under the YAML 1.2 core schema. */
export function resolvePlainScalar(s: string): null | boolean | number | string {
  if (s === '') return null;
  if (!mayBeNonText(s.charCodeAt(0))) return s;
  if (NULL.test(s)) return null;
  if (BOOL.test(s)) return s[0] === 't' || s[0] === 'T';
  if (INT_OCT.test(s)) return parseInt(s.substring(2), 8);
  if (INT.test(s)) return parseInt(s, 10);
  if (INT_HEX.test(s)) return parseInt(s.substring(2), 16);
  if (FLOAT_NAN_INF.test(s))
    return s.slice(-3).toLowerCase() === 'nan'
      ? NaN
      : s[0] === '-'
        ? Number.NEGATIVE_INFINITY
        : Number.POSITIVE_INFINITY;
  if (FLOAT_EXP.test(s) || FLOAT.test(s)) return parseFloat(s);
  return s;
}
