/**
 * The building blocks of the stack file's schemas (schema.ts, schema-alerting.ts): names,
 * durations, sizes, scalars, each with the fix shown when a value does not match.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { ByteSize } from '../util/byte-size.js';
import { Duration } from '../util/duration.js';

export const NAME_PATTERN = '^[a-z][a-z0-9-]{0,62}$';
export const nameFix = 'use lowercase letters, digits and dashes, starting with a letter (e.g. web, db-main)';
// Dots too: Docker and the kernel pass them, and images read them (Elasticsearch's
// `discovery.type`, Kibana's `server.name`); a shell cannot expand them, which no one asks of it.
export const ENV_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_.]*$';

export const DurationT = (description: string, def?: string) =>
  Type.String({
    pattern: Duration.pattern,
    description,
    default: def,
    'x-fix': 'write a number with a unit: 500ms, 2s, 1m30s, 1h',
    'x-expected': 'a duration such as 2s',
    examples: [def ?? '2s'],
  });
export const ByteSizeT = (description: string) =>
  Type.String({
    pattern: ByteSize.pattern,
    description,
    'x-fix': 'write a size such as 256MiB or 1GiB',
    'x-expected': 'a size such as 256MiB',
  });
export const Name = (description: string) => Type.String({ pattern: NAME_PATTERN, description, 'x-fix': nameFix });
export const Names = <T extends TSchema>(item: T, description: string) =>
  Type.Record(Type.String({ pattern: NAME_PATTERN }), item, { description, 'x-fix': nameFix });
export const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);
export const PortNumber = Type.Integer({ minimum: 1, maximum: 65535, 'x-fix': 'use a port from 1 to 65535, or auto' });
