import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { groundworkArgv, nodeFlagsOfShebang } from '../../bench/harness/groundwork-bin.js';

const root = path.resolve(import.meta.dirname, '../..');

describe('the groundwork bin', () => {
  it('runs node with a capped young generation (the daemon RSS figure depends on it)', () => {
    const shebang = readFileSync(path.join(root, 'src/cli/main.ts'), 'utf8').split('\n', 1)[0] ?? '';
    expect(nodeFlagsOfShebang(shebang)).toEqual(['--max-semi-space-size=2']);
  });

  it('reads the node flags of a shebang, with or without env -S', () => {
    expect(nodeFlagsOfShebang('#!/usr/bin/env node')).toEqual([]);
    expect(nodeFlagsOfShebang('#!/usr/bin/env -S node --a=1 --b')).toEqual(['--a=1', '--b']);
    expect(() => nodeFlagsOfShebang('#!/bin/sh')).toThrow(/not a node shebang/);
  });

  it('is started by benches as the installed bin would start it', () => {
    const argv = groundworkArgv(root, ['up', '--json']);
    expect(argv.slice(-3)).toEqual([path.join(root, 'dist', 'cli', 'main.js'), 'up', '--json']);
    expect(argv[0]).toBe('--max-semi-space-size=2');
  });
});
