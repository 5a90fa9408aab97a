/** Stack files written from typed objects, so a test's stack is checked by the compiler. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { StackConfig } from '../../src/config/schema.js';

export type ServiceConfig = NonNullable<StackConfig['services']>[string];

/** Writes `stack` as YAML to `dir`/`name` (default groundwork.yaml); returns the file's path. */
export function writeStack(dir: string, stack: StackConfig, name = 'groundwork.yaml'): string {
  const file = path.join(dir, name);
  writeFileSync(file, stringify(stack));
  return file;
}
