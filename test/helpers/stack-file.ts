/** Stack files written from typed objects, so a test's stack is checked by the compiler. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { StackConfig } from '../../src/config/schema.js';
import { parseStackText } from '../../src/config/load.js';
import { buildModel } from '../../src/model/build-model.js';
import type { ResourceRow } from '../../src/store/store.js';

export type ServiceConfig = NonNullable<StackConfig['services']>[string];

/** Writes `stack` as YAML to `dir`/`name` (default groundwork.yaml); returns the file's path. */
export function writeStack(dir: string, stack: StackConfig, name = 'groundwork.yaml'): string {
  const file = path.join(dir, name);
  writeFileSync(file, stringify(stack));
  return file;
}

/**
 * The resource rows a stack's text would be recorded as after an apply (serial 1, no outputs):
 * for tests that hand rows to a consumer (alerting, checks) without running apply.
 */
export function recordedRowsOf(yaml: string): ResourceRow[] {
  const r = parseStackText(yaml, 'groundwork.yaml');
  if (!r.config) throw new Error(`stack does not parse: ${JSON.stringify(r.diagnostics)}`);
  const { model, diagnostics } = buildModel(
    r.config,
    { dir: '/tmp', configHash: 'x', file: 'groundwork.yaml' },
    { cli: {}, env: {} },
  );
  if (!model) throw new Error(`no model: ${JSON.stringify(diagnostics)}`);
  return model.resources.map((x) => ({
    address: x.address,
    kind: x.kind,
    spec: x.spec,
    outputs: {},
    dependsOn: x.dependsOn,
    serial: 1,
    updatedAt: '2026-12-01T09:00:00.000Z',
  }));
}
