/**
 * Client-side routing under /ui/: real links (`<a href>`, so they work with the keyboard, open in
 * a new tab, and survive a reload: the server answers every /ui/ path with the app) whose plain
 * clicks are turned into history entries.
 */
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set<() => void>();

export function navigate(to: string): void {
  history.pushState(null, '', to);
  for (const l of listeners) l();
}

/** The current path, re-rendering on navigation and on back/forward. */
export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    listeners.add(update);
    addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      removeEventListener('popstate', update);
    };
  }, []);
  return path;
}

export function Link(props: { href: string; children: ComponentChildren; class?: string }): JSX.Element {
  const onClick = (e: MouseEvent) => {
    // Modified clicks (new tab, new window) stay the browser's.
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(props.href);
  };
  const current = location.pathname === props.href ? 'page' : undefined;
  return (
    <a href={props.href} class={props.class} onClick={onClick} aria-current={current}>
      {props.children}
    </a>
  );
}
