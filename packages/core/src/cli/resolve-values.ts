import { readFileSync } from 'node:fs';
import { envName, type OptionDef } from './option-defs.js';
import type { RawValue, RawValues } from './common-config.js';

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
    if (cli !== undefined) value = cli;
    else if (envValue !== undefined) value = fromEnv(def, envValue);
    else if (file[def.name] !== undefined) value = fromFile(def, file[def.name]);
    else value = def.repeatable ? [] : def.value ? def.default : false;
    if (def.required && (value === undefined || value === '' || (Array.isArray(value) && value.length === 0))) {
      throw new Error(`--${def.name} is required (or set ${envName(def.name)}, or "${def.name}" in the config file)`);
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
    throw new Error(`--config: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not the parser's message: it quotes the file's text, which may be a secret.
    throw new Error(`--config: ${path} is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`--config: ${path} must hold a JSON object of flag names to values`);
  }
  const known = new Set(defs.map((d) => d.name));
  const unknown = Object.keys(parsed).filter((k) => !known.has(k));
  if (unknown.length > 0) throw new Error(`--config: unknown keys in ${path}: ${unknown.join(', ')}`);
  return parsed as Record<string, unknown>;
}

function fromEnv(def: OptionDef, value: string): RawValue {
  if (def.repeatable)
    return value
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== '');
  return def.value ? value : parseBool(value, envName(def.name));
}

function fromFile(def: OptionDef, value: unknown): RawValue {
  if (def.repeatable) {
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
      throw new Error(`--config: "${def.name}" must be an array of strings`);
    }
    return value;
  }
  if (!def.value) {
    if (typeof value !== 'boolean') throw new Error(`--config: "${def.name}" must be true or false`);
    return value;
  }
  if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`--config: "${def.name}" must be a string or number`);
  return String(value);
}

function parseBool(value: string, name: string): boolean {
  if (['true', '1', 'yes'].includes(value.toLowerCase())) return true;
  if (['false', '0', 'no', ''].includes(value.toLowerCase())) return false;
  throw new Error(`${name} must be true or false (got "${value}")`);
}
