export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Structured logger; passed in, never global. */
export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { log: () => undefined };

export function streamLogger(write: (line: string) => void, minLevel: LogLevel = 'info'): Logger {
  const order: LogLevel[] = ['debug', 'info', 'warn', 'error'];
  return {
    log(level, msg, fields) {
      if (order.indexOf(level) < order.indexOf(minLevel)) return;
      write(JSON.stringify({ t: new Date().toISOString(), level, msg, ...fields }) + '\n');
    },
  };
}
