import { readFileSync } from 'node:fs';
import { envName, type OptionDef } from './option-defs.js';
import type { RawValue, RawValues } from './common-config.js';
import { ConfigError } from '../config-error.js';

/**
 * Resolve each flag once, in the documented order: command line → environment → config file →
 * default. Values stay raw strings/booleans here; schemas validate them afterwards.
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
    let value: RawValue;
    if (cli !== undefined) value = def.repeatable && Array.isArray(cli) ? listItems(cli as readonly string[]) : cli;
    else if (envValue !== undefined) value = fromEnv(def, envValue);
    else if (file[def.name] !== undefined) value = fromFile(def, file[def.name]);
    else value = def.repeatable ? [] : def.value ? def.default : false;
    if (def.required && (value === undefined || value === '' || (Array.isArray(value) && value.length === 0))) {
      throw new ConfigError(`--${def.name} is required (or set ${envName(def.name)}, or "${def.name}" in the config file)`);
    }
    out[def.name] = value;
  }
  return out;
}

/** Read the optional JSON config file: an object whose keys are flag names. */
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

/**
 * The items of a repeatable option, read the same way from every source: each value given (a
 * flag occurrence, the environment variable, an array element of the config file) is a
 * comma-separated list. So `--encryption-context a=b,c=d`, `--encryption-context a=b
 * --encryption-context c=d`, `KMS_PLUGIN_ENCRYPTION_CONTEXT=a=b,c=d` and `["a=b","c=d"]` are one
 * and the same: moving a value between them can never change what the plugin binds to data.
 */
function listItems(values: readonly string[]): string[] {
  return values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

function fromEnv(def: OptionDef, value: string): RawValue {
  if (def.repeatable) return listItems([value]);
  return def.value ? value : parseBool(value, envName(def.name));
}

function fromFile(def: OptionDef, value: unknown): RawValue {
  if (def.repeatable) {
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
      throw new ConfigError(`--config: "${def.name}" must be an array of strings`);
    }
    return listItems(value);
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
