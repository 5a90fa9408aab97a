/**
 * A service's rollouts as they happen, whoever started them (the CLI, another browser, the API):
 * the page follows GET /v1/events/stream?service=NAME (server-sent events, the daemon's bus) and
 * shows a release from `started` through its steps and instance changes to its end. While this
 * page runs its own deploy it shows that one's stream instead (`paused`), so nothing shows twice.
 */
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { StreamEvent } from './explore-types.js';

interface Live {
  title: string;
  lines: string[];
  done: boolean;
  ok: boolean | undefined;
}

/** Steps kept for one rollout: a long canary's instance churn stays readable. */
const MAX_LINES = 200;

function lineOf(e: StreamEvent): string | undefined {
  switch (e.type) {
    case 'progress':
      return e.message;
    case 'instance':
      return `instance ${e.instance}: ${e.state}${e.reason ? ` (${e.reason})` : ''}`;
    case 'release':
      return `release ${e.release === null ? '' : `v${e.release} `}${e.phase}: ${e.detail}`;
    case 'change':
    case 'error':
      return undefined;
  }
}

const OPERATION_TITLES = { deploy: 'Deploy', rollback: 'Rollback', restart: 'Restart' } as const;

function titleOf(e: StreamEvent): string {
  return e.type === 'progress' ? OPERATION_TITLES[e.operation] : 'A rollout';
}

export function LiveRollout(p: { service: string; paused: boolean; onEnd(): void }): JSX.Element | null {
  const [live, setLive] = useState<Live | undefined>(undefined);
  const [connection, setConnection] = useState<'connecting' | 'live' | 'lost'>('connecting');
  const pausedRef = useRef(p.paused);
  pausedRef.current = p.paused;
  const onEndRef = useRef(p.onEnd);
  onEndRef.current = p.onEnd;

  useEffect(() => {
    setLive(undefined);
    const source = new EventSource(`/v1/events/stream?service=${encodeURIComponent(p.service)}`);
    source.onopen = () => setConnection('live');
    // EventSource reconnects by itself; CLOSED means it gave up (the session ended, say).
    source.onerror = () => setConnection(source.readyState === EventSource.CLOSED ? 'lost' : 'connecting');
    source.onmessage = (m: MessageEvent<string>) => {
      if (pausedRef.current) return;
      const e = JSON.parse(m.data) as StreamEvent;
      const line = lineOf(e);
      if (line === undefined) return;
      const ended = e.type === 'progress' && e.outcome !== null ? { done: true, ok: e.outcome === 'ok' } : {};
      setLive((cur) => {
        const open = cur !== undefined && !cur.done;
        // The operation's first step opens the panel (a deploy's build comes before its release
        // starts), its outcome closes it; instance changes and release events only add to an open
        // one (a restart by the supervisor after the end is not a rollout).
        if (!open && e.type !== 'progress') return cur;
        const base: Live = open ? cur : { title: titleOf(e), lines: [], done: false, ok: undefined };
        const title =
          e.type === 'release' && e.phase === 'started' ? `${base.title} (v${e.release ?? '?'})` : base.title;
        return { ...base, title, lines: [...base.lines, line].slice(-MAX_LINES), ...ended };
      });
      if ('done' in ended) onEndRef.current();
    };
    return () => source.close();
  }, [p.service]);

  if (!live) return connection === 'lost' ? <p class="muted small">Live updates stopped; reload the page.</p> : null;
  return (
    <div
      class={`rollout live ${live.done ? (live.ok ? 'ok' : 'failed') : 'running'}`}
      data-testid="live-rollout"
      data-connection={connection}
    >
      <h3>
        {live.title}: {live.done ? (live.ok ? 'finished' : 'failed') : 'in progress…'}{' '}
        <span class="muted small">(started elsewhere)</span>
      </h3>
      <ol aria-live="polite">
        {live.lines.map((l, i) => (
          <li key={i}>{l}</li>
        ))}
      </ol>
    </div>
  );
}
