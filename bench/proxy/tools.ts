/**
 * The reference systems of the proxy benches come from Debian packages: haproxy, nginx, wrk.
 * `ensureTools` installs the missing ones with apt-get when running as root; otherwise it says
 * which are missing and how to install them.
 */
import { execFileSync } from 'node:child_process';

export const TOOLS = ['haproxy', 'nginx', 'wrk'] as const;

function missing(): string[] {
  return TOOLS.filter((t) => {
    try {
      execFileSync('sh', ['-c', `command -v ${t} || test -x /usr/sbin/${t}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
}

/** Path of a tool (Debian puts haproxy and nginx in /usr/sbin, which may not be on PATH). */
export function toolPath(t: (typeof TOOLS)[number]): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${t} || echo /usr/sbin/${t}`], { encoding: 'utf8' }).trim();
  } catch {
    return `/usr/sbin/${t}`;
  }
}

/** The soft limit of open files of this process (and its children). */
export function openFileLimit(): number {
  try {
    const n = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 1024;
  } catch {
    return 1024;
  }
}

/** Throws with a reason when the tools are missing and cannot be installed here. */
export function ensureTools(log: (line: string) => void): void {
  const absent = missing();
  if (absent.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `skipped: ${absent.join(', ')} not installed and not running as root; install them with \`sudo apt-get install -y haproxy nginx wrk\``,
    );
  }
  log(`installing ${absent.join(', ')} (apt-get install -y haproxy nginx wrk)`);
  const apt = (args: string[]) =>
    execFileSync('apt-get', args, {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  try {
    apt(['install', '-y', 'haproxy', 'nginx', 'wrk']);
  } catch {
    log('apt-get install failed; running apt-get update and trying once more');
    apt(['update']);
    apt(['install', '-y', 'haproxy', 'nginx', 'wrk']);
  }
  const still = missing();
  if (still.length) throw new Error(`apt-get install did not provide ${still.join(', ')}`);
}
