/* global console */
// Builds the dashboard (src/web/app) into dist/web/ui: one minified script and one stylesheet
// with content-hashed names (served as immutable), an index.html that names them, and a brotli
// and a gzip copy of each file made here, so the daemon never compresses at request time.
// Run by `npm run build`; prints the compressed sizes.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const app = path.join(root, 'src', 'web', 'app');
const out = path.join(root, 'dist', 'web', 'ui');

rmSync(out, { recursive: true, force: true });
mkdirSync(path.join(out, 'assets'), { recursive: true });

const result = await build({
  entryPoints: { app: path.join(app, 'main.tsx'), style: path.join(app, 'style.css') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: path.join(out, 'assets'),
  entryNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
  absWorkingDir: root,
});

const outputs = Object.entries(result.metafile.outputs).map(([file, meta]) => ({
  file: path.relative(out, path.join(root, file)),
  entry: meta.entryPoint ?? '',
}));
const named = (suffix) => {
  const o = outputs.find((x) => x.file.endsWith(suffix));
  if (!o) throw new Error(`esbuild wrote no ${suffix} file into ${out}; see its messages above`);
  return `/ui/${o.file.split(path.sep).join('/')}`;
};

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Groundwork</title>
<link rel="stylesheet" href="${named('.css')}">
<script type="module" src="${named('.js')}"></script>
</head>
<body>
<div id="app"></div>
<noscript>The Groundwork dashboard needs JavaScript; the CLI (groundwork status) does not.</noscript>
</body>
</html>
`;
writeFileSync(path.join(out, 'index.html'), html);

const files = ['index.html', ...outputs.map((o) => o.file)];
const sizes = [];
for (const f of files) {
  const full = path.join(out, f);
  const raw = readFileSync(full);
  const br = brotliCompressSync(raw, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length },
  });
  const gz = gzipSync(raw, { level: 9 });
  writeFileSync(`${full}.br`, br);
  writeFileSync(`${full}.gz`, gz);
  sizes.push({ file: f, raw: raw.length, br: br.length, gzip: gz.length });
}
const total = sizes.reduce((a, s) => ({ raw: a.raw + s.raw, br: a.br + s.br, gzip: a.gzip + s.gzip }), {
  raw: 0,
  br: 0,
  gzip: 0,
});
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
for (const s of sizes) console.log(`dashboard: ${s.file} ${kb(s.raw)} (brotli ${kb(s.br)}, gzip ${kb(s.gzip)})`);
console.log(`dashboard: total ${kb(total.raw)} (brotli ${kb(total.br)}, gzip ${kb(total.gzip)}) in ${out}`);
