/**
 * Loads groundwork.config.ts: transpiles it with the TypeScript compiler (no type check; `groundwork
 * validate` checks the value against the schema) and imports the result. An import of
 * 'groundwork' is pointed at this package so the file works without installing us locally.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { errorMessage } from '../util/error-message.js';

/** Where a problem is in the TypeScript file: 1-based, like every diagnostic. */
export interface TsPosition {
  line: number;
  column: number;
}

export async function loadTypeScriptStack(
  file: string,
): Promise<{ value: unknown; locate: (path: string) => TsPosition } | { error: string; at?: TsPosition }> {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (e) {
    return { error: `cannot read ${file}: ${(e as Error).message}` };
  }
  const ts = (await import('typescript')).default;
  const out = ts.transpileModule(source, {
    // The map turns a runtime error's position in the transpiled module back into the file's.
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: true },
    reportDiagnostics: true,
    fileName: file,
  });
  const syntax = out.diagnostics?.[0];
  if (syntax) {
    const pos =
      syntax.file && syntax.start !== undefined ? syntax.file.getLineAndCharacterOfPosition(syntax.start) : undefined;
    return {
      error: `TypeScript syntax error: ${ts.flattenDiagnosticMessageText(syntax.messageText, ' ')}`,
      ...(pos ? { at: { line: pos.line + 1, column: pos.character + 1 } } : {}),
    };
  }
  const entry = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'index.js')).href;
  const code = out.outputText
    // The map is ours to read (positionInSource), not a file beside the module for Node to look for.
    .replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n')
    .replace(/(from\s+|import\s*\(\s*)(['"])groundwork\2/g, `$1$2${entry}$2`);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'groundwork-config-'));
  try {
    const js = path.join(tmp, 'groundwork.config.mjs');
    writeFileSync(js, code);
    const mod = (await import(pathToFileURL(js).href)) as { default?: unknown };
    if (mod.default === undefined) return { error: 'groundwork.config.ts has no default export' };
    const value = JSON.parse(JSON.stringify(mod.default)) as unknown;
    const sf = ts.createSourceFile(file, source, ts.ScriptTarget.ES2022, true);
    return { value, locate: (p) => locateInSource(ts, sf, p) };
  } catch (e) {
    const at = out.sourceMapText ? positionInSource(e, out.sourceMapText) : undefined;
    return { error: `groundwork.config.ts failed to load: ${errorMessage(e)}`, ...(at ? { at } : {}) };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Where in groundwork.config.ts an error thrown while its module ran was raised: the first stack
 * frame in the transpiled module, mapped back through the transpiler's source map.
 */
function positionInSource(e: unknown, sourceMapText: string): TsPosition | undefined {
  const stack = e instanceof Error ? (e.stack ?? '') : '';
  const m = /groundwork\.config\.mjs:(\d+):(\d+)/.exec(stack);
  if (!m) return undefined;
  try {
    const entry = new SourceMap(JSON.parse(sourceMapText) as SourceMapPayload).findEntry(
      Number(m[1]) - 1,
      Number(m[2]) - 1,
    );
    // findEntry answers {} when nothing maps there.
    if (!('originalLine' in entry)) return undefined;
    return { line: entry.originalLine + 1, column: entry.originalColumn + 1 };
  } catch {
    return undefined;
  }
}

type Ts = typeof import('typescript');
type TsNode = import('typescript').Node;

/**
 * The position of a dotted diagnostic path (`services.web.replicas`) in the object literal the
 * file exports: `export default defineStack({...})` or `export default {...}`, following
 * identifiers to the `const` that holds a part (`services: { web }`, `const web = {...}`).
 * The deepest part found wins: a path into a computed value points at the expression.
 */
function locateInSource(ts: Ts, sf: import('typescript').SourceFile, dotted: string): TsPosition {
  const at = (n: TsNode): TsPosition => {
    const { line, character } = sf.getLineAndCharacterOfPosition(n.getStart(sf));
    return { line: line + 1, column: character + 1 };
  };
  const consts = new Map<string, TsNode>();
  let root: TsNode | undefined;
  const visit = (n: TsNode): void => {
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.initializer) consts.set(n.name.text, n.initializer);
    if (ts.isExportAssignment(n)) root = n.expression;
    ts.forEachChild(n, visit);
  };
  visit(sf);
  if (!root) return { line: 1, column: 1 };
  /** Through calls (defineStack(x)), parentheses, `as`/`satisfies` and identifiers to the literal. */
  const unwrap = (n: TsNode, depth = 0): TsNode => {
    if (depth > 20) return n;
    if (ts.isCallExpression(n) && n.arguments[0]) return unwrap(n.arguments[0], depth + 1);
    if (ts.isParenthesizedExpression(n) || ts.isAsExpression(n) || ts.isSatisfiesExpression(n))
      return unwrap(n.expression, depth + 1);
    if (ts.isIdentifier(n) && consts.has(n.text)) return unwrap(consts.get(n.text) as TsNode, depth + 1);
    return n;
  };
  let node = unwrap(root);
  let found: TsNode = root;
  for (const seg of dotted === '' ? [] : dotted.split('.')) {
    if (ts.isObjectLiteralExpression(node)) {
      const prop = node.properties.find((p) => {
        const name = p.name;
        return (
          name !== undefined &&
          (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name)) &&
          name.text === seg
        );
      });
      if (!prop) break;
      found = prop;
      if (ts.isPropertyAssignment(prop)) node = unwrap(prop.initializer);
      else if (ts.isShorthandPropertyAssignment(prop)) node = unwrap(prop.name);
      else break;
    } else if (ts.isArrayLiteralExpression(node)) {
      const el = node.elements[Number(seg)];
      if (el === undefined) break;
      found = el;
      node = unwrap(el);
    } else break;
  }
  return at(found);
}
