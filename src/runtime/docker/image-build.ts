/** Building an image from a Dockerfile in a release directory, with the builder's output streamed. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Duration } from '../../util/duration.js';
import type { DockerClient } from './docker-client.js';
import { buildContext } from './build-context.js';

export type ImageBuildClient = Pick<DockerClient, 'buildImage'>;

export interface ImageBuildRequest {
  /** The build context: a directory on this machine (the release directory). */
  contextDir: string;
  /** Path of the Dockerfile relative to contextDir (default Dockerfile). */
  dockerfile?: string;
  /** e.g. `groundwork/homelab-web:<release>`. */
  tag: string;
  labels?: Record<string, string>;
  /** One call per line of builder output (`Step 2/4 : COPY ...`). */
  onProgress?: (line: string) => void;
  /** Default 30m. */
  timeout?: Duration;
}

export async function buildImage(
  client: ImageBuildClient,
  req: ImageBuildRequest,
): Promise<{ id: string; tag: string }> {
  const dockerfile = req.dockerfile ?? 'Dockerfile';
  if (!existsSync(req.contextDir)) throw new Error(`build context ${req.contextDir} does not exist`);
  if (!existsSync(path.join(req.contextDir, dockerfile))) {
    throw new Error(
      `no ${dockerfile} in ${req.contextDir}; fix \`dockerfile:\` (it is relative to the release directory)`,
    );
  }
  let partial = '';
  const emit = (text: string) => {
    partial += text;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) req.onProgress?.(l.trimEnd());
  };
  const id = await client.buildImage(buildContext(req.contextDir, dockerfile), {
    tag: req.tag,
    dockerfile,
    ...(req.labels ? { labels: req.labels } : {}),
    ...(req.timeout ? { timeoutMs: req.timeout.toMilliseconds() } : {}),
    onProgress: (m) => {
      if (m.stream) emit(m.stream);
      else if (m.status) emit(`${m.id ? `${m.id}: ` : ''}${m.status}${m.progress ? ` ${m.progress}` : ''}\n`);
    },
  });
  if (partial.trim()) req.onProgress?.(partial.trimEnd());
  return { id, tag: req.tag };
}
