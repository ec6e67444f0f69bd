import { Command, Option } from 'commander';
import type { Logger } from 'pino';
import { createLogger } from '../ops/logger.js';
import { PluginMetrics } from '../ops/metrics.js';
import { createPluginServer, type PluginServer } from '../plugin-server.js';
import type { KeyProvider } from '../provider.js';
import { parseCommonConfig, serverOptionsFrom, type RawValue, type RawValues } from './common-config.js';
import { COMMON_OPTIONS, ENV_PREFIX, envName, type OptionDef } from './option-defs.js';
import { readConfigFile, resolveValues } from './resolve-values.js';

export type { OptionDef, RawValue, RawValues };

/** What a backend binary tells the shared runner (its main.ts is just this object). */
export interface PluginCliSpec {
  /** The binary's name, e.g. "kms-plugin-local". */
  readonly name: string;
  readonly version: string;
  readonly description: string;
  /** The backend's own flags, added to the common ones. */
  readonly options: readonly OptionDef[];
  /** Build the provider from the resolved backend flags; throw an Error naming the flag on bad input. */
  buildProvider(values: RawValues, log: Logger, context: BuildContext): KeyProvider | Promise<KeyProvider>;
  /** Extra subcommands (e.g. `rotate` of the local backend). */
  addCommands?(program: Command): void;
}

/** What else a backend may use while it is built. */
export interface BuildContext {
  /** The plugin's metrics; a backend adds its own gauges with {@link PluginMetrics.backendGauge}. */
  readonly metrics: PluginMetrics;
}

/** Exit codes: 2 for a configuration error, 1 for a failure to start. */
class ConfigError extends Error {}

/**
 * The runner every binary shares: parse flags (command line → env → config file → default),
 * validate once, build the provider, serve, and on SIGTERM/SIGINT drain and exit 0.
 */
export async function runPluginCli(spec: PluginCliSpec, argv: readonly string[] = process.argv): Promise<void> {
  const defs = [...COMMON_OPTIONS, ...spec.options];
  const program = new Command(spec.name)
    .description(spec.description)
    .version(spec.version, '--version')
    .addHelpText(
      'after',
      `\nEvery flag can also be set as ${ENV_PREFIX}<FLAG_NAME> (e.g. ${envName('listen-addr')}) or in the --config JSON file.`,
    )
    .option('--config <file>', `JSON file of flag names to values (${envName('config')})`)
    .showHelpAfterError();
  for (const def of defs) {
    const flag = def.value ? `--${def.name} <${def.value}>` : `--${def.name}`;
    const help = `${def.help}${def.default ? ` (default: ${def.default})` : ''}${def.required ? ' (required)' : ''}`;
    const option = new Option(flag, help);
    if (def.repeatable) option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
    program.addOption(option);
  }
  spec.addCommands?.(program);
  program.action(async () => {
    // Exit explicitly: a provider's SDK may keep handles open after stop.
    process.exit(await serve(spec, defs, program));
  });
  await program.parseAsync(argv);
}

async function serve(spec: PluginCliSpec, defs: readonly OptionDef[], program: Command): Promise<number> {
  let values: RawValues;
  let log: Logger | undefined;
  let server: PluginServer | undefined;
  // Listen for SIGTERM/SIGINT before anything is created: a signal that arrives while the socket is
  // being set up must still drain and remove it, not kill the process with the socket left behind.
  const signalled = waitForSignal(() => log);
  try {
    const opts = program.opts<Record<string, RawValue>>();
    const configPath = typeof opts.config === 'string' ? opts.config : process.env[envName('config')];
    const file = readConfigFile(configPath, defs);
    values = resolveValues(defs, (name) => opts[camel(name)], process.env, file);
    const common = parseCommonConfig(values);
    const logger = createLogger({ level: common['log-level'], name: spec.name });
    log = logger;
    const metrics = new PluginMetrics({ processMetrics: true });
    const provider = await build(spec, values, logger, { metrics });
    server = createPluginServer({
      ...serverOptionsFrom(common),
      provider,
      logger,
      metrics,
      runtimeVersion: spec.version,
    });
    await server.start();
    await signalled.promise;
    await server.stop(common['shutdown-grace']);
    return 0;
  } catch (err) {
    signalled.dispose();
    await server?.stop(0).catch(() => undefined);
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${spec.name}: ${message}\n`);
    return err instanceof ConfigError || isConfigMessage(message) ? 2 : 1;
  }
}

async function build(spec: PluginCliSpec, values: RawValues, log: Logger, context: BuildContext): Promise<KeyProvider> {
  try {
    return await spec.buildProvider(values, log, context);
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err), { cause: err });
  }
}

function waitForSignal(logger: () => Logger | undefined): { promise: Promise<void>; dispose(): void } {
  let onSignal: (signal: NodeJS.Signals) => void = () => undefined;
  const dispose = (): void => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
  const promise = new Promise<void>((resolve) => {
    onSignal = (signal) => {
      logger()?.info({ signal }, 'shutting down: draining in-flight calls');
      dispose();
      resolve();
    };
  });
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return { promise, dispose };
}

function isConfigMessage(message: string): boolean {
  return message.startsWith('--') || message.startsWith(ENV_PREFIX);
}

function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
