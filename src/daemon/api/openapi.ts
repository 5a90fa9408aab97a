/** The OpenAPI 3.1 document of the API, generated from the route table and its TypeBox schemas. */
import type { Route } from './http-app.js';
import { ErrorBody } from './schemas.js';

export function openApiDocument(routes: Route[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const p = r.path.replace(/:([a-z]+)/g, '{$1}');
    const params = [...r.path.matchAll(/:([a-z]+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const ok = r.streams
      ? {
          description: r.streams === 'ndjson' ? 'A stream of JSON lines (events)' : 'A text stream',
          content: { [r.streams === 'ndjson' ? 'application/x-ndjson' : 'text/plain']: { schema: { type: 'string' } } },
        }
      : { description: 'OK', content: { 'application/json': { schema: r.response ?? {} } } };
    paths[p] = {
      ...paths[p],
      [r.method.toLowerCase()]: {
        summary: r.summary,
        security: [{ bearer: [] }],
        parameters: params,
        ...(r.body ? { requestBody: { required: false, content: { 'application/json': { schema: r.body } } } } : {}),
        responses: {
          200: ok,
          400: { description: 'Bad request', content: { 'application/json': { schema: ErrorBody } } },
          401: { description: 'Missing or wrong token', content: { 'application/json': { schema: ErrorBody } } },
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
  ) as Record<string, unknown>;
}
