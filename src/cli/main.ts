import { parseArgs } from 'node:util';
import { ConfigError, loadSettings } from '../config/load.js';
import { createApp } from '../app.js';
import { startServer } from '../http/server.js';
import { closeAgents } from '../upstream/transport.js';

const USAGE = `Usage: switchyard <command> [options]

Commands:
  serve            Start the gateway
    --config FILE  Configuration file (default: ./switchyard.yaml if present, or $SWITCHYARD_CONFIG)
    --port N       Port to listen on (default: $PORT or 8787)
    --host ADDR    Address to bind (default: $HOST or 127.0.0.1)
    --record DIR   Write every upstream exchange to go-vcr cassettes in DIR
    --demo         Serve the bundled demo conversations through the replay provider
                   (also the default when no provider key is set and no config file exists)
  help             Show this help
`;

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host.startsWith('127.');
}

export async function serve(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      record: { type: 'string' },
      demo: { type: 'boolean' },
    },
    strict: true,
  });
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--port must be a port number, got "${values.port}"`);
  }
  const settings = loadSettings({ configFile: values.config, port, host: values.host, record: values.record, demo: values.demo ? true : 'auto' });
  if (settings.apiKeys.length === 0 && !isLoopback(settings.host)) {
    throw new ConfigError(
      `refusing to bind ${settings.host} without API keys: set SWITCHYARD_API_KEYS or auth.keys, or bind 127.0.0.1`,
    );
  }
  const app = createApp(settings);
  const running = await startServer(app);
  const enabled = [...settings.providers.values()].filter((p) => p.enabled).map((p) => p.entry.slug);
  app.log.info(
    {
      url: running.url,
      config: settings.configFile,
      dataDir: settings.dataDir,
      providers: enabled,
      models: settings.catalog.models.size,
    },
    `Switchyard listening on ${running.url}`,
  );
  if (settings.apiKeys.length === 0) app.log.warn('auth is off (no API keys configured): serving on loopback only');
  if (settings.demo) {
    app.log.warn(
      `demo mode: answering moonshotai/kimi-k2-0905 from bundled recordings (providers: ${enabled.join(', ')}); set a provider key such as GROQ_API_KEY to serve real traffic`,
    );
  } else if (enabled.length === 0) {
    app.log.warn('no provider is enabled: set a provider key such as GROQ_API_KEY (see README)');
  }
  if (settings.recordDir) app.log.info({ dir: settings.recordDir }, 'recording upstream exchanges');
  let stopping = false;
  const stop = (signal: string) => {
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
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        await serve(rest);
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
    if (err instanceof ConfigError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      process.stderr.write(`switchyard: ${(err as Error).message}\n`);
      process.exit(2);
    }
    if ((err as { code?: string }).code === 'EADDRINUSE') {
      process.stderr.write(`switchyard: ${(err as Error).message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
