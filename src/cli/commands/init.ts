import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { errorMessage } from '../../util/error-message.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineCommand } from '../command.js';
import { EXIT, UserError } from '../io.js';

const schemaPath = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'schema',
  'groundwork.schema.json',
);

export function starterStack(name: string): string {
  return `# yaml-language-server: $schema=${schemaPath}
# Groundwork stack file. Validate with \`groundwork validate\`, preview with
# \`groundwork plan\`, run with \`groundwork apply\` (or \`groundwork up\` for the daemon).
stack: ${name}

# Inputs. Override with --var NAME=VALUE or the environment (GROUNDWORK_VAR_NAME).
variables:
  greeting:
    default: hello from groundwork
    description: What the hello service answers

# Secrets are referenced as \${secret.NAME} and only ever resolved into a process's
# environment. Give a value with GROUNDWORK_SECRET_API_TOKEN=... or a 0600 file in
# .groundwork/secrets/api-token.
# secrets:
#   api-token: { description: Token for the upstream API }

volumes:
  data:
    path: ./data          # relative to this file
    mode: "0750"          # quote octal modes

services:
  hello:
    # Without \`args\`, the command runs through /bin/sh -c.
    command: node -e "require('http').createServer((q, s) => s.end(process.env.GREETING + '\\\\n')).listen(process.env.PORT, '127.0.0.1')"
    replicas: 1
    ports:
      http: auto          # Groundwork picks a free port per instance
    env:
      PORT: \${port.http}
      GREETING: \${var.greeting}
      DATA_DIR: \${volume.data}
    health:
      http: { path: / }
      interval: 2s
    restart: always       # always | on-failure | never

# The daemon's proxy listens on listeners and sends requests by their routes to the
# ready instances. Uncomment both, then: curl -H 'Host: hello.lab.test' localhost:18080/
# listeners:
#   web: { port: 18080 }  # address: 127.0.0.1 by default
# routes:
#   - { match: { host: hello.lab.test, path: / }, service: hello, port: http, listener: web }
`;
}

export const initCommand = defineCommand({
  name: 'init',
  args: ['DIR'],
  summary: 'Write a commented starter groundwork.yaml',
  usage: 'init [DIR] [--name NAME] [--force]',
  flags: {
    name: { type: 'string', description: 'Stack name (default: the directory name)', valueName: 'NAME' },
    force: { type: 'boolean', description: 'Overwrite an existing groundwork.yaml' },
    json: { type: 'boolean', description: 'Machine-readable output' },
    help: { type: 'boolean', short: 'h', description: 'Show this help' },
  },
  async run(flags, pos, io) {
    const dir = path.resolve(io.cwd, pos[0] ?? '.');
    const file = path.join(dir, 'groundwork.yaml');
    if (existsSync(file) && !flags.force) throw new UserError(`${file} already exists; pass --force to overwrite it`);
    const base =
      (flags.name ?? path.basename(dir))
        .toLowerCase()
        .replace(/[^a-z0-9-]+/g, '-')
        .replace(/^[^a-z]+/, '')
        .slice(0, 63) || 'homelab';
    // Like `git init DIR`: the folder is made when it is not there.
    const made = !existsSync(dir);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new UserError(
        `cannot create directory ${dir}: ${errorMessage(e)}; choose another place or create it yourself`,
      );
    }
    writeFileSync(file, starterStack(base));
    if (flags.json) io.stdout(`${JSON.stringify({ file, stack: base, created: made })}\n`);
    else
      io.stdout(
        `${made ? `Created ${dir}. ` : ''}Wrote ${file}. Next: ${pos[0] ? `cd ${pos[0]} && ` : ''}groundwork validate && groundwork plan\n`,
      );
    return EXIT.ok;
  },
});
