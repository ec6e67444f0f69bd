import { readFileSync } from 'node:fs';
import { ConfigError } from '../config-error.js';
import { envName, splitList, type OptionDef } from './options.js';

/** A value as the sources give it: a string, a switch's boolean, a list's strings; undefined when absent. */
export type RawValue = string | boolean | readonly string[] | undefined;
export type RawValues = Readonly<Record<string, RawValue>>;

/**
 * Resolve each option once, in the documented order: command line → environment → config file.
 * An option none of them sets stays undefined (its default is applied when it is validated).
 * A repeatable option reads the same from every source: each value is a comma-separated list, so
 * `--encryption-context a=b,c=d`, two flags, `KMS_PLUGIN_ENCRYPTION_CONTEXT=a=b,c=d` and
 * `["a=b","c=d"]` are one and the same; moving a value between them never changes what the plugin
 * binds to data.
 */
export function resolveValues(
  defs: readonly OptionDef[],
  fromCli: (name: string) => RawValue,
  env: NodeJS.ProcessEnv,
  file: Readonly<Record<string, unknown>>,
): RawValues {
  const out: Record<string, RawValue> = {};
  for (const def of defs) {
    const cli = fromCli(def.name);
    // An empty variable is unset (KMS_PLUGIN_BACKEND_RATE_LIMIT="" must not mean 0), except for
    // switches, where "" reads as false.
    const rawEnv = env[envName(def.name)];
    const envValue = rawEnv === '' && def.value ? undefined : rawEnv;
    if (cli !== undefined) out[def.name] = def.repeatable && Array.isArray(cli) ? splitList(cli as readonly string[]) : cli;
    else if (envValue !== undefined) out[def.name] = fromEnv(def, envValue);
    else if (file[def.name] !== undefined) out[def.name] = fromFile(def, file[def.name]);
  }
  return out;
}

/** Read the optional JSON config file: an object whose keys are option names. */
export function readConfigFile(path: string | undefined, defs: readonly OptionDef[]): Record<string, unknown> {
  if (!path) return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`--config: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not the parser's message: it quotes the file's text, which may be a secret.
    throw new ConfigError(`--config: ${path} is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`--config: ${path} must hold a JSON object of flag names to values`);
  }
  const known = new Set(defs.map((d) => d.name));
  const unknown = Object.keys(parsed).filter((k) => !known.has(k));
  if (unknown.length > 0) throw new ConfigError(`--config: unknown keys in ${path}: ${unknown.join(', ')}`);
  return parsed as Record<string, unknown>;
}

function fromEnv(def: OptionDef, value: string): RawValue {
  if (def.repeatable) return splitList([value]);
  return def.value ? value : parseBool(value, envName(def.name));
}

function fromFile(def: OptionDef, value: unknown): RawValue {
  if (def.repeatable) {
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
      throw new ConfigError(`--config: "${def.name}" must be an array of strings`);
    }
    return splitList(value);
  }
  if (!def.value) {
    if (typeof value !== 'boolean') throw new ConfigError(`--config: "${def.name}" must be true or false`);
    return value;
  }
  if (typeof value !== 'string' && typeof value !== 'number') throw new ConfigError(`--config: "${def.name}" must be a string or number`);
  return String(value);
}

function parseBool(value: string, name: string): boolean {
  if (['true', '1', 'yes'].includes(value.toLowerCase())) return true;
  if (['false', '0', 'no', ''].includes(value.toLowerCase())) return false;
  throw new ConfigError(`${name} must be true or false (got "${value}")`);
}
