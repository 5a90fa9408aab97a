/** The README's alerting example validates (so the documentation cannot drift from the schema). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseStackText } from '../../src/config/load.js';

const README = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../README.md');

describe('README: Alerts and notifications', () => {
  it('the example is a valid part of a stack file', () => {
    const text = readFileSync(README, 'utf8');
    const section = text.slice(text.indexOf('#### Alerts and notifications'));
    const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBeDefined();
    // The services and secrets it refers to, declared around it.
    const stack = `stack: readme\nsecrets: { hook-key: {}, slack-url: {}, smtp: {} }\nservices:\n  web: { command: node server.js, ports: { http: auto } }\n  db: { command: node db.js }\n${block ?? ''}`;
    const r = parseStackText(stack, 'groundwork.yaml');
    expect(r.diagnostics).toEqual([]);
  });
});
