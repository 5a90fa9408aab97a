/**
 * Request bodies: at most MAX_BODY_BYTES (413 beyond), JSON (400 otherwise; empty means {}),
 * and matching the route's TypeBox schema (400 listing every problem at its JSON path). The
 * handler then finds the checked value as `ctx.body`.
 */
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ApiError } from '../api-error.js';
import type { ApiEnv } from '../api-env.js';
import { errorMessage } from '../responses.js';
import type { Problem } from '../schemas.js';

export const MAX_BODY_BYTES = 1024 * 1024;

/** The most problems one answer lists; a body can be wrong in thousands of places. */
const MAX_PROBLEMS = 20;

export const limitBody: MiddlewareHandler<ApiEnv> = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => {
    throw new ApiError(
      413,
      'payload-too-large',
      `the body is larger than ${MAX_BODY_BYTES} bytes`,
      'send a smaller body (a saved plan of this size is unusual: check what is being sent)',
    );
  },
});

export function jsonBody(schema: TSchema | undefined, where: string): MiddlewareHandler<ApiEnv> {
  const compiled = schema ? TypeCompiler.Compile(schema) : undefined;
  return async (c, next) => {
    const text = await c.req.text();
    let body: unknown = {};
    if (text.trim() !== '') {
      try {
        body = JSON.parse(text);
      } catch (e) {
        throw new ApiError(
          400,
          'bad-request',
          `the body is not valid JSON: ${errorMessage(e)}`,
          'send a JSON object, e.g. {}',
        );
      }
    }
    if (compiled && !compiled.Check(body)) {
      const problems: Problem[] = [];
      const seen = new Set<string>();
      for (const e of compiled.Errors(body)) {
        // A union reports one error per branch; the first per path says enough.
        if (seen.has(e.path)) continue;
        seen.add(e.path);
        problems.push({ path: e.path, message: e.message });
        if (problems.length === MAX_PROBLEMS) break;
      }
      throw new ApiError(
        400,
        'bad-request',
        `the body does not match: ${problems
          .slice(0, 5)
          .map((p) => `${p.path || '(body)'}: ${p.message}`)
          .join('; ')}`,
        `see the schema of ${where} in /v1/openapi.json`,
        problems,
      );
    }
    c.set('body', body);
    await next();
  };
}
