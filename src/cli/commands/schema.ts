import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { jsonSchemaText } from '../../config/json-schema.js';
import { defineCommand } from '../command.js';
import { EXIT } from '../io.js';

export const schemaCommand = defineCommand({
  name: 'schema',
  summary: 'Print (or write) the JSON Schema of the stack file, for editors',
  usage: 'schema [--out FILE]',
  flags: {
    out: { type: 'string', description: 'Write to FILE instead of stdout', valueName: 'FILE' },
    help: { type: 'boolean', short: 'h', description: 'Show this help' },
  },
  async run(flags, _pos, io) {
    if (flags.out) writeFileSync(path.resolve(io.cwd, flags.out), jsonSchemaText());
    else io.stdout(jsonSchemaText());
    return EXIT.ok;
  },
});
