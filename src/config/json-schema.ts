import { StackSchema } from './schema.js';

/** The stack schema as a JSON Schema document (draft-07), for yaml-language-server and other editors. */
export function jsonSchemaText(): string {
  const doc = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://groundwork.dev/schema/groundwork.schema.json',
    ...(JSON.parse(JSON.stringify(StackSchema)) as Record<string, unknown>),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
