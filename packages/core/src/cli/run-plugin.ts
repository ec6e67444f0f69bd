import { Command, CommanderError, Option } from 'commander';
import type { Logger } from 'pino';
import { ConfigError } from '../config-error.js';
import { createLogger } from '../ops/logger.js';
import { PluginMetrics } from '../ops/metrics.js';
import { createPluginServer, type PluginServer } from '../plugin-server.js';
import type { KeyProvider } from '../provider.js';
import { COMMON_OPTIONS, parseCommonConfig, serverOptionsFrom } from './common-options.js';
import { ENV_PREFIX, envName, optionDefs, optionsJsonSchema, type OptionDecls, type OptionDef } from './options.js';
import { readConfigFile, resolveValues, type RawValue, type RawValues } from './resolve-values.js';
import { buildCommit, ownVersion } from './version-info.js';

/** What a backend binary tells the shared runner (its main.ts is just this object). */
export interface PluginCliSpec<D extends OptionDecls = OptionDecls, C = unknown> {
  /** The binary's name, e.g. "kms-plugin-local". */
  readonly name: string;
  readonly version: string;
  /**
   * Versions `--version` and the start-up line report besides the binary's and core's own: the
   * backend SDK, e.g. `{ '@aws-sdk/client-kms': installedVersion('@aws-sdk/client-kms', import.meta.url) }`.
   */
  readonly components?: Readonly<Record<string, string>>;
  readonly description: string;
  /** The backend's own options, declared once (see defineOptions), added to the common ones. */
  readonly options: D;
  /**
   * Validate the backend's options into its configuration: its library face, parse<Backend>Config
   * (parseOptions plus the checks across options, e.g. "--external-id needs --role-arn").
   */
  parseConfig(values: Readonly<Record<string, unknown>>): C;
  /** Build the provider from the configuration; throw an Error naming the flag on bad input. */
  buildProvider(config: C, context: BuildContext): KeyProvider | Promise<KeyProvider>;
  /** Extra subcommands (e.g. `rotate` of the local backend). */
  addCommands?(program: Command): void;
}

/** What else a backend may use while it is built. */
export interface BuildContext {
  readonly log: Logger;
  /** The plugin's metrics; a backend adds its own gauges with {@link PluginMetrics.backendGauge}. */
  readonly metrics: PluginMetrics;
}

/** Exit codes, as the Go KMS plugins have them. */
const EXIT = { ok: 0, failed: 1, config: 2 } as const;

/**
 * The runner every binary shares: parse flags (command line → env → config file → default),
 * validate once, build the provider, serve, and on SIGTERM/SIGINT drain and exit 0. A
 * configuration error exits 2, any other failure to start 1; a socket file removed or replaced
 * while serving exits 1, so that the supervisor starts a fresh plugin.
 */
export async function runPluginCli<D extends OptionDecls, C>(
  spec: PluginCliSpec<D, C>,
  argv: readonly string[] = process.argv,
): Promise<void> {
  const defs = optionDefs({ ...COMMON_OPTIONS, ...spec.options });
  const program = new Command(spec.name)
    .description(spec.description)
    .version(versionLine(spec), '--version', 'print the version, commit, Node.js and backend SDK versions')
    .addHelpText(
      'after',
      `\nEvery flag can also be set as ${ENV_PREFIX}<FLAG_NAME> (e.g. ${envName('listen-addr')}) or in the --config JSON file.` +
        '\nExit codes: 0 after SIGTERM or SIGINT, 2 for a configuration error, 1 for any other failure.',
    )
    .option('--config <file>', `JSON file of flag names to values (${envName('config')})`)
    .showHelpAfterError(`(${spec.name} --help lists every flag)`)
    // Commander exits 1 on a bad command line; a configuration error here exits 2 (see EXIT).
    .exitOverride();
  for (const def of defs) {
    const flag = def.value ? `--${def.name} <${def.value}>` : `--${def.name}`;
    const help = `${def.help}${def.default ? ` (default: ${def.default})` : ''}${def.required ? ' (required)' : ''}`;
    const option = new Option(flag, help);
    if (def.repeatable) option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
    program.addOption(option);
  }
  program.enablePositionalOptions(); // a subcommand's flags are its own, not the server's
  program
    .command('config-schema')
    .description('print the JSON Schema of the --config file (every option, its type, default and help)')
    .action(() => {
      process.stdout.write(
        `${JSON.stringify(optionsJsonSchema({ ...COMMON_OPTIONS, ...spec.options }, `${spec.name} options`), null, 2)}\n`,
      );
    });
  spec.addCommands?.(program);
  program.action(async () => {
    // Exit explicitly: a provider's SDK may keep handles open after stop.
    process.exit(await serve(spec, defs, program));
  });
  try {
    await program.parseAsync(argv);
  } catch (err) {
    // Commander has printed its message (unknown flag, missing value, --help, --version).
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.config);
    throw err;
  }
}

async function serve<D extends OptionDecls, C>(spec: PluginCliSpec<D, C>, defs: readonly OptionDef[], program: Command): Promise<number> {
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
    routeWarningsTo(logger);
    const metrics = new PluginMetrics({ processMetrics: true });
    const provider = await build(spec, values, { log: logger, metrics });
    let onLost: (reason: string) => void = () => undefined;
    const lost = new Promise<string>((resolve) => (onLost = resolve));
    server = createPluginServer({
      ...serverOptionsFrom(common),
      provider,
      logger,
      metrics,
      runtimeVersion: spec.version,
      build: versionLine(spec),
      onSocketLost: onLost,
    });
    await server.start();
    const ended = await Promise.race([signalled.promise.then(() => undefined), lost]);
    if (ended !== undefined) {
      logger.error({ reason: ended }, 'exiting so that the supervisor starts a fresh plugin');
      await server.stop(common['shutdown-grace']);
      return EXIT.failed;
    }
    await server.stop(common['shutdown-grace']);
    return EXIT.ok;
  } catch (err) {
    signalled.dispose();
    await server?.stop(0).catch(() => undefined);
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${spec.name}: ${message}\n`);
    return ConfigError.is(err) ? EXIT.config : EXIT.failed;
  }
}

async function build<D extends OptionDecls, C>(spec: PluginCliSpec<D, C>, values: RawValues, context: BuildContext): Promise<KeyProvider> {
  try {
    return await spec.buildProvider(spec.parseConfig(values), context);
  } catch (err) {
    if (ConfigError.is(err)) throw err;
    throw new ConfigError(err instanceof Error ? err.message : String(err), { cause: err });
  }
}

/** "kms-plugin-aws 0.1.0 (commit 1a2b3c4d5e6f; @k8s-kms/core 0.1.0; @aws-sdk/client-kms 3.1162.0; node v24.11.1 linux/x64)" */
function versionLine(spec: { name: string; version: string; components?: Readonly<Record<string, string>> }): string {
  const parts = [
    `commit ${buildCommit()}`,
    `@k8s-kms/core ${ownVersion(import.meta.url)}`,
    ...Object.entries(spec.components ?? {}).map(([name, version]) => `${name} ${version}`),
    `node ${process.version} ${process.platform}/${process.arch}`,
  ];
  return `${spec.name} ${spec.version} (${parts.join('; ')})`;
}

/**
 * Node prints process warnings (a dependency's deprecation notice, an SDK's multi-line
 * "upgrade Node" notice) as free text on stderr, between the JSON log lines. Log them as one JSON
 * line each instead.
 */
function routeWarningsTo(log: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    log.warn({ warning: warning.name, code: (warning as { code?: unknown }).code }, warning.message.replace(/\s+/g, ' ').trim());
  });
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

function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
