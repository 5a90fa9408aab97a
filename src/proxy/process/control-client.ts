/**
 * The client side of one control connection (protocol.ts): requests with ids, answers matched
 * to them, access-log events handed to a callback. Requests are written in call order on one
 * socket and the process handles them in that order, so a `set-pool` sent before a `metrics`
 * takes effect before the metrics are read.
 */
import net from 'node:net';
import type { AccessLogEntry } from '../data-plane.js';
import { readLines, type Answer, type Op, type Ops } from './protocol.js';

export class ControlConnectionClosed extends Error {
  constructor(socketPath: string) {
    super(`the data plane's control connection (${socketPath}) closed before it answered`);
  }
}

export class ControlConnection {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private closedError: Error | undefined;
  /** Called once when the connection ends (either side). */
  onClose: () => void = () => undefined;
  onAccess: (entry: AccessLogEntry) => void = () => undefined;

  private constructor(
    private readonly socket: net.Socket,
    private readonly socketPath: string,
  ) {
    readLines(socket, (line) => this.handle(line));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closedError = new ControlConnectionClosed(socketPath);
      for (const p of this.pending.values()) p.reject(this.closedError);
      this.pending.clear();
      this.onClose();
    });
  }

  /** Connects, or rejects (ENOENT, ECONNREFUSED, or a timeout) when nothing answers. */
  static connect(socketPath: string, timeoutMs = 2000): Promise<ControlConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect(socketPath);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`no answer on ${socketPath} within ${timeoutMs} ms`));
      }, timeoutMs);
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(new ControlConnection(s, socketPath));
      });
    });
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /** Bytes received from the process so far: it only sends while its event loop runs. */
  get bytesRead(): number {
    return this.socket.bytesRead;
  }

  /**
   * Sends a request; rejects when the process answers with an error, the connection closes, or
   * no answer came within `timeoutMs` (default 10 s: a data plane that hangs is an error, not a
   * wait; `drain` passes its own timeout plus a margin).
   */
  request<O extends Op>(op: O, args: Ops[O]['request'], timeoutMs = 10_000): Promise<Ops[O]['result']> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise<Ops[O]['result']>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the data plane did not answer ${op} within ${timeoutMs} ms (${this.socketPath})`));
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as Ops[O]['result']);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.socket.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
  }

  /** A request whose answer nobody waits for; a failure is handed to `onError`. */
  send<O extends Op>(op: O, args: Ops[O]['request'], onError: (e: Error) => void): void {
    this.request(op, args).catch((e: unknown) => {
      if (!(e instanceof ControlConnectionClosed)) onError(e as Error);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private handle(line: string): void {
    let msg: Answer | { event?: unknown; entry?: AccessLogEntry };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      return;
    }
    if ('event' in msg) {
      if (msg.event === 'access' && msg.entry) this.onAccess(msg.entry);
      return;
    }
    const a = msg as Answer;
    if (a.id === null) return;
    const p = this.pending.get(a.id);
    if (!p) return;
    this.pending.delete(a.id);
    if (a.ok) p.resolve(a.result);
    else p.reject(new Error(a.error));
  }
}
