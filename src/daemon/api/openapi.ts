/** The OpenAPI 3.1 document of the API, generated from the route table and its TypeBox schemas. */
import type { Route } from './route.js';
import { ErrorBody, type OpenApiResponse } from './schemas.js';

export function openApiDocument(routes: Route[]): OpenApiResponse {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const p = r.path.replace(/:([a-z]+)/g, '{$1}');
    const params = [...r.path.matchAll(/:([a-z]+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const query = Object.entries(r.query?.properties ?? {}).map(([name, schema]) => ({
      name,
      in: 'query',
      required: false,
      schema,
      ...(typeof schema.description === 'string' ? { description: schema.description } : {}),
    }));
    const ok = r.streams
      ? {
          description:
            r.streams === 'ndjson'
              ? 'A stream of JSON lines; the schema is that of one line. A failure after the stream started ends it with an `error` line.'
              : r.streams === 'sse'
                ? 'Server-sent events: each `data:` is one JSON object of this schema; lines starting with `:` keep the connection alive.'
                : 'A text stream',
          content:
            r.streams === 'ndjson'
              ? { 'application/x-ndjson': { schema: r.line ?? {} } }
              : r.streams === 'sse'
                ? { 'text/event-stream': { schema: r.line ?? {} } }
                : { 'text/plain': { schema: { type: 'string' } } },
        }
      : { description: 'OK', content: { 'application/json': { schema: r.response ?? {} } } };
    const error = (description: string) => ({ description, content: { 'application/json': { schema: ErrorBody } } });
    paths[p] = {
      ...paths[p],
      [r.method.toLowerCase()]: {
        summary: r.summary,
        // An empty list: no token (push pings carry their own credential in the path).
        security: r.public ? [] : [{ bearer: [] }],
        parameters: [...params, ...query],
        ...(r.body ? { requestBody: { required: false, content: { 'application/json': { schema: r.body } } } } : {}),
        responses: {
          200: ok,
          400: error('Bad request: the body, a query parameter or a saved plan; `problems` lists each at its path'),
          401: error('Missing or wrong token'),
          404: error('No such route, service or change'),
          405: error('The path exists, the method does not (see the Allow header)'),
          ...(r.body ? { 413: error('The body is larger than 1 MiB') } : {}),
          500: error('An unexpected failure; its details are in the daemon log only'),
        },
      },
    };
  }
  return JSON.parse(
    JSON.stringify({
      openapi: '3.1.0',
      info: { title: 'Groundwork daemon API', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      paths,
    }),
  ) as OpenApiResponse;
}
