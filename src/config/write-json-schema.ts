/** Writes schema/groundwork.schema.json; `--check` fails when the committed file is stale. */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonSchemaText } from './json-schema.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const target = path.join(root, 'schema', 'groundwork.schema.json');
const text = jsonSchemaText();
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    /* missing counts as stale */
  }
  if (current !== text) {
    process.stderr.write(`${target} is out of date; run \`npm run schema\` and commit it\n`);
    process.exit(1);
  }
  process.stdout.write('schema/groundwork.schema.json is current\n');
} else {
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, text);
  process.stdout.write(`wrote ${target}\n`);
}
