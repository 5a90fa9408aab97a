/**
 * Every answer of the API, redacted by value (security/redact.ts): JSON and text bodies whole,
 * streamed bodies (NDJSON progress, followed logs) chunk by chunk with a StreamRedactor, so a
 * value split over two chunks is still replaced; server-sent events frame by frame. It runs
 * outermost, so error answers (including those made by onError) pass through it too. Without any
 * known secret it costs nothing.
 */
import type { MiddlewareHandler } from 'hono';
import { StreamRedactor, type Redactor } from '../../../security/redact.js';
import type { ApiEnv } from '../api-env.js';

export function redactAnswers(redactor: () => Redactor): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    await next();
    const r = redactor();
    const res = c.res;
    if (r.empty || !res.body) return;
    const headers = new Headers(res.headers);
    headers.delete('content-length');
    const type = headers.get('content-type') ?? '';
    const streamed =
      type.includes('ndjson') ||
      type.startsWith('text/event-stream') ||
      (type.startsWith('text/plain') && !res.headers.has('content-length'));
    if (!streamed) {
      const text = await res.text();
      c.res = new Response(r.redact(text), { status: res.status, headers });
      return;
    }
    if (type.startsWith('text/event-stream')) {
      // Server-sent events come one whole frame per chunk (route-handler.ts), so no value straddles
      // two: each is redacted alone, and none is held back (a held-back tail would delay an event).
      const decoder = new TextDecoder();
      const encoder = new TextEncoder();
      const body = res.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, out) {
            out.enqueue(encoder.encode(r.redact(decoder.decode(chunk))));
          },
        }),
      );
      c.res = new Response(body, { status: res.status, headers });
      return;
    }
    const s = new StreamRedactor(r);
    const decoder = new TextDecoder();
    const encoder = new TextEncoder();
    const body = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, out) {
          const text = s.push(decoder.decode(chunk, { stream: true }));
          if (text) out.enqueue(encoder.encode(text));
        },
        flush(out) {
          const text = s.push(decoder.decode()) + s.end();
          if (text) out.enqueue(encoder.encode(text));
        },
      }),
    );
    c.res = new Response(body, { status: res.status, headers });
  };
}
