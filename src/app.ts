import pino, { type Logger } from 'pino';
import type { Settings } from './config/load.js';
import { HealthTracker } from './routing/health.js';
import { GenerationStore } from './storage/generations.js';
import { KeyRing } from './auth/keys.js';
import type { Rng } from './routing/select.js';
import { Recorder } from './replay/recorder.js';
import { openGate, type Gate } from './accounting/gate.js';

/** Everything a request handler needs, built once at start-up. */
export interface App {
  settings: Settings;
  health: HealthTracker;
  store: GenerationStore;
  keys: KeyRing;
  log: Logger;
  rng: Rng;
  recorder: Recorder | null;
  gate: Gate;
}

export interface AppOptions {
  logger?: Logger;
  rng?: Rng;
  gate?: Gate;
}

export function createApp(settings: Settings, opts: AppOptions = {}): App {
  return {
    settings,
    health: new HealthTracker(settings.failureWindowMs),
    store: new GenerationStore(settings.dataDir, settings.flushIntervalMs),
    keys: new KeyRing(settings.apiKeys),
    log: opts.logger ?? pino({ level: settings.logLevel, base: undefined }),
    rng: opts.rng ?? Math.random,
    gate: opts.gate ?? openGate,
    recorder: settings.recordDir ? new Recorder(settings.recordDir, undefined, settings.replay.secretHeaders) : null,
  };
}
