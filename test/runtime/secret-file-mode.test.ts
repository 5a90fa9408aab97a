/**
 * A secret whose plain file (.groundwork/secrets/NAME) others can read is refused on purpose; the
 * error says that and how to fix it, instead of "has no value".
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, STACK_FRAME } from '../helpers/cli.js';
import { nodeService, writeServiceScript } from '../helpers/service-script.js';
import { writeStack } from '../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

describe('a secret file with a too-open mode', () => {
  let dir = '';
  beforeEach(() => {
    dir = makeTempDir('secret-mode');
    writeServiceScript(dir);
    writeStack(dir, {
      stack: 'secretmode',
      secrets: { 'api-token': {} },
      services: { app: nodeService('secret-mode', { env: { TOKEN: '${secret.api-token}' } }) },
    });
  });
  afterEach(async () => {
    await runCli(['destroy', '--auto-approve'], { cwd: dir });
    removeTempDir(dir);
  });

  it('says the file is readable by others and ignored, and how to fix it', async () => {
    const file = path.join(dir, '.groundwork', 'secrets', 'api-token');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, 'not-shown-3141\n');
    chmodSync(file, 0o644);
    const r = await runCli(['apply', '-y'], { cwd: dir });
    expect(r.code).toBe(1);
    const all = r.stdout + r.stderr;
    expect(all).toContain('secret `api-token` is in a file with mode 0644, readable by others, which is ignored');
    expect(all).toContain(`chmod 600 ${file}`);
    expect(all).not.toContain('has no value');
    expect(all).not.toContain('not-shown-3141');
    expect(all).not.toMatch(STACK_FRAME);
  });
});
