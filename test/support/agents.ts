/**
 * Runs the two real coding agents from npm, unchanged, for the acceptance tests (test/agents.test.ts):
 *
 *  - Claude Code (`@anthropic-ai/claude-code`, a devDependency). Its npm package ships the agent as a
 *    native binary in a per-platform optional dependency; the package's postinstall would copy it
 *    over `bin/claude.exe`, but npm here runs no dependency install scripts, so the agent is started
 *    through the package's own fallback launcher `cli-wrapper.cjs`, which finds that binary.
 *  - Codex CLI (`@openai/codex`, a devDependency): `bin/codex.js`, a Node launcher for the native
 *    binary of its per-platform optional dependency. Started with the Node that runs the tests
 *    (its engines field asks for Node >= 16).
 *
 * Each run gets an empty HOME (and CODEX_HOME), a clean environment (nothing of the caller's but
 * PATH), every proxy variable pointing at a deny-all proxy (so any attempt to reach the internet
 * fails at once and is logged), a hard timeout that kills the whole process group, and the
 * settings that keep each agent from phoning home (see the README of the captured agent traffic),
 * and at most one retry of a failed request (the agents' defaults, 10 and 5 with backoff, would let
 * a broken gateway hold each run until its timeout).
 *
 * Also here: a recording reverse proxy to put in front of the gateway, so a test can see exactly
 * what an agent sent and what the gateway answered (and the X-Generation-Id of each answer).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const CLAUDE_CODE_VERSION = '2.1.332';
export const CODEX_VERSION = '0.171.0';

const require = createRequire(import.meta.url);

export interface AgentInstall {
  name: string;
  version: string;
  /** argv[0] and the arguments that come before the agent's own. */
  command: string;
  prefix: string[];
}

/** Where an npm package is installed (its folder), or an Error saying what is missing and how to fix it. */
function packageDir(pkg: string, version: string, label: string): string {
  let manifest: string;
  try {
    manifest = require.resolve(`${pkg}/package.json`);
  } catch {
    throw new Error(
      `${label} is not installed: ${pkg}@${version} is a devDependency of Switchyard; run \`npm ci\` (or \`npm install\`) in the repository.`,
    );
  }
  const found = (JSON.parse(readFileSync(manifest, 'utf8')) as { version?: string }).version;
  if (found !== version) {
    throw new Error(`${label}: ${pkg} ${found} is installed, the tests need exactly ${version}; run \`npm ci\`.`);
  }
  return dirname(manifest);
}

/** Runs `<agent> --version` and checks what it prints, so a broken install fails loudly and early. */
function checkRuns(install: AgentInstall, expect: RegExp): void {
  const r = spawnSync(install.command, [...install.prefix, '--version'], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir() },
  });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  if (r.error || r.status !== 0 || !expect.test(out)) {
    throw new Error(
      `${install.name} ${install.version} cannot be run here (${[install.command, ...install.prefix].join(' ')} --version: ` +
        `${r.error ? r.error.message : `exit ${r.status}`}): ${out.slice(0, 800)}\n` +
        'Its native binary comes from a per-platform optional dependency: reinstall with `npm ci` (without --omit=optional).',
    );
  }
}

/** Claude Code, checked to be installed and runnable. Throws an Error that says what is wrong. */
export function claudeCode(): AgentInstall {
  const dir = packageDir('@anthropic-ai/claude-code', CLAUDE_CODE_VERSION, 'Claude Code');
  const install: AgentInstall = {
    name: 'Claude Code',
    version: CLAUDE_CODE_VERSION,
    command: process.execPath,
    prefix: [join(dir, 'cli-wrapper.cjs')],
  };
  checkRuns(install, new RegExp(`^${CLAUDE_CODE_VERSION.replace(/\./g, '\\.')} \\(Claude Code\\)`));
  return install;
}

/** Codex CLI, checked to be installed and runnable. Throws an Error that says what is wrong. */
export function codex(): AgentInstall {
  const dir = packageDir('@openai/codex', CODEX_VERSION, 'Codex CLI');
  const install: AgentInstall = {
    name: 'Codex CLI',
    version: CODEX_VERSION,
    command: process.execPath,
    prefix: [join(dir, 'bin', 'codex.js')],
  };
  checkRuns(install, new RegExp(`codex-cli ${CODEX_VERSION.replace(/\./g, '\\.')}`));
  return install;
}

// ------------------------------------------------------------------------------------------------
// running
// ------------------------------------------------------------------------------------------------

export interface AgentRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  ms: number;
  /** The command line, for messages. */
  argv: string[];
}

export interface RunOptions {
  args: string[];
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
}

/** Runs an agent to its end, or kills its whole process group at the timeout. */
export function runAgent(install: AgentInstall, opts: RunOptions): Promise<AgentRun> {
  const argv = [install.command, ...install.prefix, ...opts.args];
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group: the launcher and the native binary are killed together
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let timedOut = false;
    const killGroup = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${install.name} could not be started (${argv.join(' ')}): ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      killGroup(); // anything the agent left running in its group
      resolve({ code, signal, timedOut, stdout, stderr, ms: Date.now() - started, argv });
    });
  });
}

/** The environment every agent run starts from: nothing of the caller's but PATH. */
function baseEnv(home: string, denyProxyUrl: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    TERM: 'dumb',
    NO_COLOR: '1',
    HTTP_PROXY: denyProxyUrl,
    HTTPS_PROXY: denyProxyUrl,
    ALL_PROXY: denyProxyUrl,
    http_proxy: denyProxyUrl,
    https_proxy: denyProxyUrl,
    all_proxy: denyProxyUrl,
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
  };
}

/** A fresh temporary folder; removed by the caller (see TempDirs). */
export class TempDirs {
  private readonly dirs: string[] = [];
  make(prefix: string): string {
    const d = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(d);
    return d;
  }
  removeAll(): void {
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}

export interface ClaudeCodeRunOptions {
  /** Gateway root, e.g. http://127.0.0.1:PORT (Claude Code appends /v1/messages). */
  baseUrl: string;
  apiKey: string;
  model: string;
  prompt: string;
  cwd: string;
  home: string;
  denyProxyUrl: string;
  allowedTools?: string;
  timeoutMs?: number;
}

export interface ClaudeCodeResult extends AgentRun {
  /** stdout parsed (`--output-format json`), or undefined when it is not JSON. */
  json: { result?: string; is_error?: boolean; num_turns?: number; api_error_status?: unknown; [k: string]: unknown } | undefined;
}

/** `claude -p <prompt> --output-format json --allowedTools <tools> --model <model>`, offline. */
export async function runClaudeCode(install: AgentInstall, o: ClaudeCodeRunOptions): Promise<ClaudeCodeResult> {
  const env = {
    ...baseEnv(o.home, o.denyProxyUrl),
    ANTHROPIC_BASE_URL: o.baseUrl,
    ANTHROPIC_API_KEY: o.apiKey,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_ERROR_REPORTING: '1',
    // One retry, not ten with backoff: against mocks a failed request is a bug, and should fail fast.
    CLAUDE_CODE_MAX_RETRIES: '1',
  };
  const args = ['-p', o.prompt, '--output-format', 'json', '--allowedTools', o.allowedTools ?? 'Read', '--model', o.model];
  const run = await runAgent(install, { args, cwd: o.cwd, env, timeoutMs: o.timeoutMs ?? 90_000 });
  let json: ClaudeCodeResult['json'];
  try {
    json = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '');
  } catch {
    json = undefined;
  }
  return { ...run, json };
}

export interface CodexRunOptions {
  /** The OpenAI-style base URL, e.g. http://127.0.0.1:PORT/api/v1 (Codex appends /responses). */
  baseUrl: string;
  apiKey: string;
  model: string;
  prompt: string;
  cwd: string;
  home: string;
  denyProxyUrl: string;
  timeoutMs?: number;
}

export interface CodexResult extends AgentRun {
  /** What Codex wrote with --output-last-message (its final answer), or '' if nothing. */
  lastMessage: string;
  configToml: string;
}

/**
 * The config.toml a run uses: the gateway as a `responses` provider, read-only sandbox, no
 * approvals, and the settings without which Codex contacts github.com and chatgpt.com.
 */
export function codexConfig(o: Pick<CodexRunOptions, 'baseUrl' | 'model'>): string {
  return [
    `model = ${JSON.stringify(o.model)}`,
    'model_provider = "switchyard"',
    'approval_policy = "never"',
    'sandbox_mode = "read-only"',
    'check_for_update_on_startup = false',
    '',
    '[analytics]',
    'enabled = false',
    '',
    '[feedback]',
    'enabled = false',
    '',
    '[features]',
    'plugins = false',
    'remote_plugin = false',
    'apps = false',
    '',
    '[model_providers.switchyard]',
    'name = "Switchyard"',
    `base_url = ${JSON.stringify(o.baseUrl)}`,
    'env_key = "SWITCHYARD_API_KEY"',
    'wire_api = "responses"',
    // One retry, not five with backoff: against mocks a failed request is a bug, and should fail fast.
    'request_max_retries = 1',
    'stream_max_retries = 1',
    '',
  ].join('\n');
}

/** `codex exec --strict-config --skip-git-repo-check --ephemeral <prompt>`, offline. */
export async function runCodex(install: AgentInstall, o: CodexRunOptions): Promise<CodexResult> {
  const codexHome = join(o.home, '.codex');
  mkdirSync(codexHome, { recursive: true });
  const configToml = codexConfig(o);
  writeFileSync(join(codexHome, 'config.toml'), configToml);
  const lastMessageFile = join(o.home, 'last-message.txt');
  const env = { ...baseEnv(o.home, o.denyProxyUrl), CODEX_HOME: codexHome, SWITCHYARD_API_KEY: o.apiKey };
  const args = ['exec', '--strict-config', '--skip-git-repo-check', '--ephemeral', '--color', 'never', '-o', lastMessageFile, o.prompt];
  const run = await runAgent(install, { args, cwd: o.cwd, env, timeoutMs: o.timeoutMs ?? 90_000 });
  const lastMessage = existsSync(lastMessageFile) ? readFileSync(lastMessageFile, 'utf8') : '';
  return { ...run, lastMessage, configToml };
}

// ------------------------------------------------------------------------------------------------
// proxies
// ------------------------------------------------------------------------------------------------

export interface Exchange {
  method: string;
  /** Request target as the agent sent it, query included. */
  path: string;
  requestHeaders: IncomingHttpHeaders;
  requestBody: string;
  status: number;
  responseHeaders: IncomingHttpHeaders;
  /** The answer as the agent received it (first 256 KiB). */
  responseBody: string;
  generationId: string | undefined;
}

export interface RecordingProxy {
  /** e.g. http://127.0.0.1:PORT (no trailing slash) */
  url: string;
  exchanges: Exchange[];
  close(): Promise<void>;
}

const MAX_RECORDED = 256 * 1024;

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closer(server: Server, sockets: Set<Socket>): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
    });
}

/** A reverse proxy to `target` (http://host:port) that forwards everything unchanged and records it. */
export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const exchanges: Exchange[] = [];
  const to = new URL(target);
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      const headers = { ...req.headers, host: to.host };
      const upstream = httpRequest(
        { host: to.hostname, port: to.port, method: req.method, path: req.url, headers },
        (up) => {
          const ex: Exchange = {
            method: req.method ?? 'GET',
            path: req.url ?? '/',
            requestHeaders: req.headers,
            requestBody: body.toString('utf8'),
            status: up.statusCode ?? 0,
            responseHeaders: up.headers,
            responseBody: '',
            generationId: typeof up.headers['x-generation-id'] === 'string' ? up.headers['x-generation-id'] : undefined,
          };
          exchanges.push(ex);
          res.writeHead(up.statusCode ?? 502, up.rawHeaders);
          up.on('data', (c: Buffer) => {
            if (ex.responseBody.length < MAX_RECORDED) ex.responseBody += c.toString('utf8');
            res.write(c);
          });
          up.on('end', () => res.end());
          up.on('error', () => res.destroy());
        },
      );
      upstream.on('error', (err) => {
        exchanges.push({
          method: req.method ?? 'GET',
          path: req.url ?? '/',
          requestHeaders: req.headers,
          requestBody: body.toString('utf8'),
          status: 0,
          responseHeaders: {},
          responseBody: `recording proxy: ${err.message}`,
          generationId: undefined,
        });
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`recording proxy: ${err.message}`);
      });
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      upstream.end(body);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const url = await listen(server);
  return { url, exchanges, close: closer(server, sockets) };
}

export interface DenyProxy {
  url: string;
  /** host:port (CONNECT) or absolute URL (plain HTTP) of every attempt. */
  attempts: string[];
  close(): Promise<void>;
}

/** An HTTP(S) proxy that refuses every request and logs where it was meant to go. */
export async function startDenyProxy(): Promise<DenyProxy> {
  const attempts: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    attempts.push(`${req.method} ${req.url}`);
    res.writeHead(403, { 'content-type': 'text/plain', connection: 'close' });
    res.end('deny-all proxy: no network in tests\n');
  });
  server.on('connect', (req, socket: Socket) => {
    attempts.push(`CONNECT ${req.url}`);
    socket.end('HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const url = await listen(server);
  return { url, attempts, close: closer(server, sockets) };
}
