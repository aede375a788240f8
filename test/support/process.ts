/** Runs the `switchyard` CLI from source as a real child process, as an operator would. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ENTRY = join(resolve(fileURLToPath(import.meta.url), '..', '..', '..'), 'src', 'cli', 'entry.ts');

export interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** `switchyard <args>` with only PATH plus `env` in its environment. */
export function runCli(args: string[], env: Record<string, string>, cwd: string): Proc {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), ENTRY, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

/** Waits until the process printed `pattern`; fails with its output if it exits or times out first. */
export async function waitFor(p: Proc, pattern: RegExp, ms = 15_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = pattern.exec(p.output());
    if (m) return m;
    if (p.child.exitCode !== null || Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; output:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `switchyard serve --port 0 [args]` and the URL it listens on. */
export async function startServe(env: Record<string, string>, cwd: string, ms = 20_000, args: string[] = []): Promise<Proc & { url: string }> {
  const p = runCli(['serve', '--port', '0', ...args], env, cwd);
  try {
    const [, url] = await waitFor(p, /"url":"(http:\/\/127\.0\.0\.1:\d+)"/, ms);
    return { ...p, url };
  } catch (err) {
    // The caller never gets the process to stop: a server left running would hold the test file open.
    p.child.kill('SIGKILL');
    throw err;
  }
}

/** SIGTERM and wait for the exit, unless the process is already gone (or was never started). */
export async function stopProc(p: Proc | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  await p.exited;
}

/** Reads a streamed response's first chunk, runs `then` (e.g. SIGTERM the server), and returns the whole body. */
export async function readAcross(res: Response, then: () => void): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = decoder.decode((await reader.read()).value, { stream: true });
  then();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
}
