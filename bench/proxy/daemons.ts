/** Long-running processes of a bench (backends, reference proxies): start, wait until they listen, stop. */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

export interface Daemon {
  name: string;
  child: ChildProcess;
  /** Output so far (stdout and stderr), for error messages. */
  output(): string;
  stop(): Promise<void>;
}

export function startDaemon(
  name: string,
  command: string,
  args: readonly string[],
  /** `ownSession`: start it in a session of its own (setsid), as the daemon starts the data plane. */
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; ownSession?: boolean } = {},
): Daemon {
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.ownSession === true,
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.on('error', (e) => {
    out += `\n${e.message}`;
  });
  return {
    name,
    child,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          resolve();
          return;
        }
        const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/** Resolves when something accepts connections on the port; rejects when `d` exits first or after 20 s. */
export async function waitListening(d: Daemon, port: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (d.child.exitCode !== null || d.child.signalCode !== null)
      throw new Error(`${d.name} exited before it listened on ${port}:\n${d.output().slice(-2000)}`);
    if (await connects(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${d.name} did not listen on ${port} within 20 s:\n${d.output().slice(-2000)}`);
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A free loopback port now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
