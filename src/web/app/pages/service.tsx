/**
 * One service: its instances, its logs tailed live (the logs route with follow, read as a
 * stream), its releases with Deploy and Rollback, and a deploy's progress as the daemon streams it.
 */
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { followLines, postStream } from '../api.js';
import type { DeployLine, InstanceView, Release, Releases, Status } from '../api-types.js';
import { ago, errorText } from '../format.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';
import { Table, type Column } from '../table.js';
import { useApi } from '../use-api.js';
import { HealthBadge, healthOf } from './overview.js';
import { LiveRollout } from '../live-rollout.js';

/** Lines kept on screen: enough to read back, bounded so a chatty service cannot grow the page. */
const MAX_LOG_LINES = 500;

function LiveLogs(p: { service: string }): JSX.Element {
  const [lines, setLines] = useState<string[]>([]);
  const [state, setState] = useState<'connecting' | 'live' | 'ended' | string>('connecting');
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const ctl = new AbortController();
    setLines([]);
    setState('connecting');
    const path = `/v1/services/${encodeURIComponent(p.service)}/logs?follow=true&lines=100`;
    let pending: string[] = [];
    let frame = 0;
    // Lines arrive in bursts: one render per animation frame, not one per line.
    const flush = () => {
      frame = 0;
      const add = pending;
      pending = [];
      setLines((old) => [...old, ...add].slice(-MAX_LOG_LINES));
    };
    followLines(path, ctl.signal, (line) => {
      pending.push(line);
      if (!frame) frame = requestAnimationFrame(flush);
    })
      .then(() => setState('ended'))
      .catch((e: unknown) => {
        if (!ctl.signal.aborted) setState(`stopped: ${errorText(e)}`);
      });
    setState('live');
    return () => {
      ctl.abort();
      cancelAnimationFrame(frame);
    };
  }, [p.service]);
  useEffect(() => {
    const el = box.current;
    // Follow the tail unless the reader scrolled up to read.
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 80) el.scrollTop = el.scrollHeight;
  }, [lines]);
  return (
    <section aria-labelledby="logs-h">
      <h2 id="logs-h">
        Logs <span class="muted small">({state})</span>
      </h2>
      <pre ref={box} class="logs" tabIndex={0} aria-live="off" data-testid="logs">
        {lines.join('\n')}
      </pre>
    </section>
  );
}

const INSTANCE_COLUMNS: Column<InstanceView>[] = [
  { head: '#', cell: (i) => i.index },
  {
    head: 'State',
    cell: (i) => (
      <>
        {i.state}
        {i.reason ? <span class="muted small"> {i.reason}</span> : null}
      </>
    ),
  },
  { head: 'Ready', cell: (i) => (i.ready ? 'yes' : 'no') },
  { head: 'Restarts', cell: (i) => i.restarts },
  { head: 'Started', cell: (i) => ago(i.startedAt), wide: true },
];

function releaseColumns(current: number | null): Column<Release>[] {
  return [
    {
      head: 'Release',
      cell: (r) => (
        <>
          v{r.seq}
          {r.seq === current ? <span class="badge healthy">current</span> : null}
        </>
      ),
    },
    { head: 'Status', cell: (r) => `${r.kind} · ${r.status}` },
    { head: 'Source', cell: (r) => r.source, wide: true },
    { head: 'When', cell: (r) => ago(r.createdAt) },
  ];
}

interface Rollout {
  action: string;
  lines: string[];
  done: boolean;
  ok: boolean | undefined;
}

export function ServicePage(p: { name: string }): JSX.Element {
  const { can, who } = useSession();
  const status = useApi<Status>('/v1/status', { every: 3000 });
  const releases = useApi<Releases>(`/v1/services/${encodeURIComponent(p.name)}/releases?limit=20`, {
    every: 10_000,
  });
  const [ref, setRef] = useState('');
  const [rollout, setRollout] = useState<Rollout | undefined>(undefined);
  const service = status.data?.services.find((s) => s.name === p.name);
  const mayDeploy = can('service.deploy', p.name);
  const busy = rollout !== undefined && !rollout.done;

  const run = async (action: 'deploy' | 'rollback', body: Record<string, unknown>, label: string) => {
    setRollout({ action: label, lines: [], done: false, ok: undefined });
    const add = (line: string, end?: { ok: boolean }) =>
      setRollout((r) => r && { ...r, lines: [...r.lines, line], ...(end ? { done: true, ok: end.ok } : {}) });
    try {
      await postStream<DeployLine>(`/v1/services/${encodeURIComponent(p.name)}/${action}`, body, (l) => {
        if (l.type === 'progress') add(l.message);
        else if (l.type === 'result') {
          const r = l.result;
          add(
            r.ok
              ? `done: release v${r.release ?? '?'} is live (${Math.round(r.ms)} ms)`
              : `failed${r.rolledBack ? ', rolled back' : ''}: ${r.reason ?? 'no reason given'}`,
            { ok: r.ok },
          );
        } else add(`error: ${l.error.message}`, { ok: false });
      });
    } catch (e) {
      add(`refused: ${errorText(e)}`, { ok: false });
    }
    setRollout((r) => (r && !r.done ? { ...r, done: true, ok: false } : r));
    releases.refresh();
    status.refresh();
  };

  const current = releases.data?.current ?? null;
  const previous = releases.data?.releases.find((r) => r.seq !== current && r.status === 'superseded');

  return (
    <main id="main">
      <p class="crumbs">
        <Link href="/ui/">Overview</Link> / {p.name}
      </p>
      <h1>
        {p.name} {service ? <HealthBadge health={healthOf(service)} /> : null}
      </h1>
      {status.error ? <p class="error">{status.error}</p> : null}
      {status.data && !service ? <p class="error">No service named {p.name} in this stack.</p> : null}
      {service ? (
        <section aria-labelledby="inst-h">
          <h2 id="inst-h">Instances</h2>
          <Table rows={service.instances} columns={INSTANCE_COLUMNS} rowKey={(i) => i.index} labelledBy="inst-h" />
        </section>
      ) : null}

      <section aria-labelledby="rel-h">
        <h2 id="rel-h">Releases</h2>
        {mayDeploy ? (
          <form
            class="actions"
            onSubmit={(e) => {
              e.preventDefault();
              const r = ref.trim();
              void run('deploy', r ? { ref: r } : {}, r ? `Deploy ${r}` : 'Deploy the working tree');
            }}
          >
            <label for="ref">Git ref</label>
            <input
              id="ref"
              placeholder="(working tree)"
              value={ref}
              onInput={(e) => setRef(e.currentTarget.value)}
              disabled={busy}
            />
            <button type="submit" disabled={busy} data-action="deploy">
              Deploy
            </button>
            <button
              type="button"
              disabled={busy || !previous}
              data-action="rollback"
              onClick={() => void run('rollback', {}, `Roll back to v${previous?.seq ?? '?'}`)}
            >
              Roll back{previous ? ` to v${previous.seq}` : ''}
            </button>
          </form>
        ) : who ? (
          <p class="muted">Your role may not deploy or roll back this service.</p>
        ) : null}
        <LiveRollout
          service={p.name}
          paused={busy}
          onEnd={() => {
            releases.refresh();
            status.refresh();
          }}
        />
        {rollout ? (
          <div class={`rollout ${rollout.done ? (rollout.ok ? 'ok' : 'failed') : 'running'}`} data-testid="rollout">
            <h3>
              {rollout.action}: {rollout.done ? (rollout.ok ? 'finished' : 'failed') : 'in progress…'}
            </h3>
            <ol aria-live="polite">
              {rollout.lines.map((l, i) => (
                <li key={i}>{l}</li>
              ))}
            </ol>
          </div>
        ) : null}
        {releases.error ? <p class="error">{releases.error}</p> : null}
        <Table
          class="releases"
          rows={releases.data?.releases}
          columns={releaseColumns(current)}
          rowKey={(r) => r.seq}
          rowAttrs={(r) => ({ class: r.seq === current ? 'current' : undefined })}
          labelledBy="rel-h"
        />
      </section>
      {can('logs.read', p.name) ? <LiveLogs service={p.name} /> : null}
    </main>
  );
}
