import { parseArgs } from 'node:util';
import { ConfigError, loadSettings, type LoadOptions, type Settings } from '../config/load.js';
import pino, { type Logger } from 'pino';
import { createLogger } from '../observability/logger.js';
import { createApp, isLoopback, StartupError, type App, type AppOptions } from '../app.js';
import { SqliteDriverUnavailable } from '../storage/sqlite-driver.js';
import { creditsRangeMessage, nanoToUsd, usdToNano } from '../keys/money.js';
import { startServer, type RunningServer } from '../http/server.js';
import { closeAgents } from '../upstream/transport.js';
import { runPrimary } from '../cluster/primary.js';
import { isClusterWorker, joinCluster } from '../cluster/worker.js';

const USAGE = `Usage: switchyard <command> [options]

Commands:
  serve            Start the gateway
    --config FILE  Configuration file (default: ./switchyard.yaml if present, or $SWITCHYARD_CONFIG)
    --port N       Port to listen on (default: $PORT or 8787)
    --host ADDR    Address to bind (default: $HOST or 127.0.0.1)
    --workers N    Serve with N processes sharing the port (default: $SWITCHYARD_WORKERS or 1, a
                   single process); 0 or "auto": one per CPU. Without Redis the workers share
                   rate limits and key invalidations through the primary process
    --record DIR   Write every upstream exchange to go-vcr cassettes in DIR
    --demo         Serve the bundled demo conversations through the replay provider
                   (also the default when no provider key is set and no config file exists)
                   SIGHUP reloads the configuration; SIGTERM/SIGINT drain and stop
  doctor           Check what serve would start with: the configuration, storage, Redis and each
                   enabled provider (its model list, asked with its key); one line per check, exit 1
                   when something is broken. Takes serve's options, and --timeout MS (default 5000)
  keys create      Create an API key and print it once (the first management key bootstraps the key API)
    --management   A management key (for /api/v1/keys and /api/v1/credits) instead of an inference key
    --label NAME   Its name (default: "cli")
    --limit USD    Credit limit of an inference key; --limit-reset daily|weekly|monthly
  keys list        List keys (hash, name, kind, state, usage, limit)
  keys disable HASH | keys enable HASH | keys delete HASH
  credits          Show the account balance; credits add USD | credits set USD | credits unlimited
                   (all take --config FILE; storage is DATABASE_URL, else SQLite under the data dir)
  help             Show this help
`;

const SERVE_OPTIONS = {
  config: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  record: { type: 'string' },
  demo: { type: 'boolean' },
  workers: { type: 'string' },
} as const;

/** serve's flags as loadSettings options (doctor reads the same). */
function serveLoadOptions(values: { config?: string; port?: string; host?: string; record?: string; demo?: boolean; workers?: string }): LoadOptions {
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--port must be a port number, got "${values.port}"`);
  }
  return { configFile: values.config, port, host: values.host, record: values.record, demo: values.demo ? true : 'auto', workers: values.workers };
}

export async function serve(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: SERVE_OPTIONS, strict: true });
  const settings = loadSettings(serveLoadOptions(values));
  if (isClusterWorker()) return serveWorker(settings);
  if (settings.workers > 1) return servePrimary(settings);
  const { app, authOn } = await openGateway(settings);
  const running = await startServer(app);
  announce(app.log, settings, running.url, app.sql.description, authOn);
  const stop = drainer(app, running);
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Reload without restart; the outcome (or the reason it was refused) is logged by the app.
  process.on('SIGHUP', () => void app.reload().catch(() => undefined));
}

/** Builds the app: storage opened and migrated, Redis reached; refuses a non-loopback bind without keys. */
async function openGateway(settings: Settings, opts: AppOptions = {}): Promise<{ app: App; authOn: boolean }> {
  const app = createApp(settings, opts);
  await app.init();
  const authOn = await app.keys.isEnabled();
  if (!authOn && !isLoopback(settings.host)) {
    await app.close();
    throw new ConfigError(
      `refusing to bind ${settings.host} without API keys: create one with \`switchyard keys create\`, set SWITCHYARD_API_KEYS or auth.keys, or bind 127.0.0.1`,
    );
  }
  return { app, authOn };
}

/** The start-up lines: "Switchyard listening on …" (once per server, whatever the number of workers) and the warnings that apply. */
function announce(log: Logger, settings: Settings, url: string, database: string, authOn: boolean): void {
  const enabled = [...settings.providers.values()].filter((p) => p.enabled).map((p) => p.entry.slug);
  log.info(
    {
      url,
      config: settings.configFile,
      dataDir: settings.dataDir,
      database,
      redis: settings.redisUrl ? 'on' : 'off',
      providers: enabled,
      models: settings.catalog.models.size,
    },
    `Switchyard listening on ${url}`,
  );
  if (!authOn) log.warn('auth is off (no API keys configured): serving on loopback only');
  if (settings.databaseUrl && !settings.redisUrl) {
    log.warn(
      settings.workers > 1
        ? "DATABASE_URL without REDIS_URL: budgets are shared, but rate limits are counted per host (this host's workers share them)"
        : 'DATABASE_URL without REDIS_URL: budgets are shared, but rate limits are counted per replica',
    );
  }
  if (settings.demo) {
    log.warn(
      `demo mode: answering moonshotai/kimi-k2-0905 from bundled recordings (providers: ${enabled.join(', ')}); set a provider key such as GROQ_API_KEY to serve real traffic`,
    );
  } else if (enabled.length === 0) {
    log.warn('no provider is enabled: set a provider key such as GROQ_API_KEY (see README)');
  }
  if (settings.recordDir) log.info({ dir: settings.recordDir }, 'recording upstream exchanges');
}

/** The shutdown path (SIGTERM, SIGINT, or the cluster primary's request): stop accepting, let open requests finish, flush records, exit 0. */
function drainer(app: App, running: RunningServer): (signal: string) => void {
  let stopping = false;
  return (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'draining open requests');
    void running
      .shutdown()
      .then(() => closeAgents())
      .then(() => {
        app.log.info('stopped');
        process.exit(0);
      });
  };
}

/**
 * `serve --workers N`, primary process: the same start-up checks as a single process, with the
 * migrations run here once before any worker exists; then the workers (src/cluster/primary.ts).
 */
async function servePrimary(settings: Settings): Promise<void> {
  const log = createLogger(settings.logLevel);
  const { app, authOn } = await openGateway(settings, { logger: log });
  const database = app.sql.description;
  await app.close();
  runPrimary({
    settings,
    log,
    onListening: (url, workers) => {
      log.info({ workers: workers.map((w) => w.pid) }, `${workers.length} workers share the port`);
      announce(log, settings, url, database, authOn);
    },
  });
}

/** `serve --workers N`, one worker: the whole app, sharing the port and, without Redis, its state through the primary. */
async function serveWorker(settings: Settings): Promise<void> {
  const member = joinCluster();
  // Installed before start-up, so a stop asked for meanwhile is honoured as soon as the server runs.
  let stop: ((signal: string) => void) | null = null;
  let asked: string | null = null;
  const request = (signal: string) => (stop ? stop(signal) : (asked ??= signal));
  process.on('SIGTERM', () => request('SIGTERM'));
  process.on('SIGINT', () => request('SIGINT'));
  member.onShutdown(() => request('shutdown'));
  // The primary coordinates reloads (a SIGHUP sent to it reaches every worker); one sent to the
  // whole process group reaches the primary too. Without a handler SIGHUP would end the worker.
  process.on('SIGHUP', () => undefined);
  const log = createLogger(settings.logLevel, { worker: member.id, pid: process.pid });
  const { app } = await openGateway(settings, { logger: log, ...member.appOptions });
  member.onReload(() => app.reloadHere());
  const running = await startServer(app);
  stop = drainer(app, running);
  if (asked) return stop(asked);
  const addr = running.server.address();
  member.ready(running.url, typeof addr === 'object' && addr ? addr.port : settings.port);
}

/** An app on the configured storage for a one-shot admin command. */
async function adminApp(configFile: string | undefined): Promise<App> {
  const settings = loadSettings({ configFile, demo: false });
  const app = createApp(settings, { logger: createLogger('warn', undefined, pino.destination(2)) });
  await app.init();
  return app;
}

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

export async function keysCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string' },
      management: { type: 'boolean' },
      label: { type: 'string' },
      name: { type: 'string' },
      limit: { type: 'string' },
      'limit-reset': { type: 'string' },
      'include-disabled': { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (!['create', 'list', 'disable', 'enable', 'delete'].includes(sub ?? '')) throw new ConfigError(`keys: expected create, list, disable, enable or delete`);
  let limitNano: number | null = null;
  if (values.limit !== undefined) {
    const usd = Number(values.limit);
    if (!Number.isFinite(usd) || usd < 0) throw new ConfigError(`--limit must be a number of USD, got "${values.limit}"`);
    limitNano = usdToNano(usd);
  }
  const reset = values['limit-reset'] ?? null;
  if (reset !== null && !['daily', 'weekly', 'monthly'].includes(reset)) throw new ConfigError('--limit-reset must be daily, weekly or monthly');
  const app = await adminApp(values.config);
  try {
    if (sub === 'create') {
      const { row, key } = await app.keyStore.create({
        name: values.label ?? values.name ?? 'cli',
        management: values.management === true,
        limitNano,
        limitReset: reset as 'daily' | 'weekly' | 'monthly' | null,
      });
      out(key);
      err(`created ${row.is_management ? 'management' : 'inference'} key "${row.name}" (hash ${row.hash}); it is shown only this once`);
      return;
    }
    if (sub === 'list') {
      for (const row of await app.keyStore.list({ includeDisabled: true, offset: 0, limit: 10_000 })) {
        const limit = row.limit_nano === null ? 'unlimited' : `$${nanoToUsd(row.limit_nano)}${row.limit_reset ? `/${row.limit_reset}` : ''}`;
        out(`${row.hash}  ${row.is_management ? 'management' : 'inference '}  ${row.disabled ? 'disabled' : 'enabled '}  usage $${nanoToUsd(row.usage_nano)}  limit ${limit}  ${row.label}  ${row.name}`);
      }
      return;
    }
    const hash = positionals[0];
    if (!hash) throw new ConfigError(`keys ${sub}: the key's hash is required (see switchyard keys list)`);
    const ok = sub === 'delete' ? await app.keyStore.delete(hash) : (await app.keyStore.update(hash, { disabled: sub === 'disable' })) !== null;
    if (!ok) throw new ConfigError(`keys ${sub}: no key with hash ${hash}`);
    err(`key ${hash} ${sub}d`);
  } finally {
    await app.close();
  }
}

export async function creditsCommand(argv: string[]): Promise<void> {
  // A negative amount (`credits add -5`, a correction) is a number, not an option: taken out before parsing.
  const negative = argv.findIndex((a, i) => i > 0 && /^-\d+(\.\d+)?$/.test(a));
  const rest = negative < 0 ? argv : argv.filter((_a, i) => i !== negative);
  const { values, positionals } = parseArgs({ args: rest, options: { config: { type: 'string' } }, allowPositionals: true, strict: true });
  if (negative >= 0) positionals.splice(1, 0, argv[negative]!);
  const [sub, amount] = positionals;
  let nano: number | null = null;
  if (sub === 'add' || sub === 'set') {
    const usd = Number(amount);
    if (amount === undefined || !Number.isFinite(usd) || (sub === 'set' && usd < 0)) throw new ConfigError(`credits ${sub}: a USD amount is required`);
    nano = usdToNano(usd);
  } else if (sub !== undefined && sub !== 'show' && sub !== 'unlimited') {
    throw new ConfigError('credits: expected show, add USD, set USD or unlimited');
  }
  const app = await adminApp(values.config);
  try {
    const change = sub === 'add' ? await app.keyStore.addCredits(nano!) : sub === 'set' ? await app.keyStore.setCredits(nano) : sub === 'unlimited' ? await app.keyStore.setCredits(null) : null;
    if (change && !change.ok) throw new ConfigError(`credits ${sub}: ${creditsRangeMessage(change.totalNano)}`);
    const a = await app.keyStore.account();
    out(
      a.creditsNano === null
        ? `total_credits unlimited  total_usage $${nanoToUsd(a.usageNano)}`
        : `total_credits $${nanoToUsd(a.creditsNano)}  total_usage $${nanoToUsd(a.usageNano)}  balance $${nanoToUsd(a.creditsNano - a.usageNano)}`,
    );
  } finally {
    await app.close();
  }
}

/** `switchyard doctor [serve's options] [--timeout MS]`: exit 1 when a check fails. */
export async function doctorCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { ...SERVE_OPTIONS, timeout: { type: 'string' } }, strict: true });
  const timeoutMs = values.timeout === undefined ? 5000 : Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new ConfigError(`--timeout must be a number of milliseconds, got "${values.timeout}"`);
  // Loaded here: serve does not pay for the checks' modules (undici's whole client among them).
  const { formatChecks, runChecks } = await import('./doctor.js');
  const results = await runChecks(serveLoadOptions(values), { timeoutMs });
  out(formatChecks(results).trimEnd());
  const broken = results.filter((r) => r.status === 'fail').length;
  err(broken === 0 ? 'switchyard doctor: no problem found' : `switchyard doctor: ${broken} check(s) failed`);
  process.exitCode = broken === 0 ? 0 : 1;
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        await serve(rest);
        return;
      case 'keys':
        await keysCommand(rest);
        return;
      case 'credits':
        await creditsCommand(rest);
        return;
      case 'doctor':
        await doctorCommand(rest);
        return;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return;
      default:
        process.stderr.write(`switchyard: unknown command "${command}"\n\n${USAGE}`);
        process.exitCode = 2;
    }
  } catch (err) {
    if (err instanceof ConfigError || err instanceof StartupError || err instanceof SqliteDriverUnavailable || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`switchyard: ${(err as Error).message}\n`);
      process.exit(2);
    }
    if ((err as { code?: string }).code === 'EADDRINUSE') {
      process.stderr.write(`switchyard: ${(err as Error).message}\n`);
      process.exit(1);
    }
    // Anything else is still one line for the operator; the stack trace only when asked for.
    process.stderr.write(`switchyard: ${describeFailure(err)}\n`);
    if (/^(debug|trace)$/i.test(process.env.LOG_LEVEL ?? '')) process.stderr.write(`${(err as Error).stack ?? ''}\n`);
    process.exit(1);
  }
}

/** The first line of an unexpected error, with what to do when it is a known installation problem. */
export function describeFailure(err: unknown): string {
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.trim();
  // better-sqlite3 ships no binary in its npm package: its install script downloads or compiles one,
  // and an install that skipped scripts (or a Node.js upgrade since) leaves it unusable.
  if (/bindings file|better_sqlite3\.node|NODE_MODULE_VERSION/.test(message)) {
    return (
      `the SQLite driver (better-sqlite3) has no native build for Node.js ${process.versions.node} (${message}). ` +
      'Run `npm rebuild better-sqlite3` where Switchyard is installed (npm must be allowed to run its install script, ' +
      'e.g. `npm install -g --allow-scripts=better-sqlite3 …`; without a prebuilt download it needs a C++ toolchain), ' +
      'or set DATABASE_URL to use PostgreSQL'
    );
  }
  return message || String(err);
}
