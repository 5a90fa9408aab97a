#!/usr/bin/env -S node --max-semi-space-size=2
// The V8 flag caps the young generation at 2 MiB per semi-space (V8's default grows it to 16 MiB
// and never gives it back while the process allocates more than 1 MB/s, which a daemon
// supervising 50 services does): the daemon's RSS drops by about 30 MB, with the CPU per
// command unchanged within noise. Figures and how they were made: README, Architecture.
import { run } from './run.js';

// `groundwork history | head` closes our stdout early: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    else throw e;
  });
}

const code = await run(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
  cwd: process.cwd(),
  isTty: Boolean(process.stdout.isTTY),
  ask: async (prompt) => {
    if (!process.stdin.isTTY) return null;
    const { createInterface } = await import('node:readline/promises');
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      return await rl.question(prompt);
    } finally {
      rl.close();
    }
  },
  readSecret: async (prompt) => {
    if (process.stdin.isTTY) {
      const { createInterface } = await import('node:readline/promises');
      const { Writable } = await import('node:stream');
      // Echo nothing of what is typed: the value must not stay on the screen or in scrollback.
      process.stderr.write(prompt);
      const muted = new Writable({ write: (_c, _e, done) => done() });
      const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
      try {
        return await rl.question('');
      } finally {
        rl.close();
        process.stderr.write('\n');
      }
    }
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  },
});
process.exitCode = code;
