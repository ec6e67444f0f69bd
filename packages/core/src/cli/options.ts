import { z } from 'zod';
import { ConfigError } from '../config-error.js';
import { GO_DURATION, parseDuration } from './duration.js';

/**
 * One option of a plugin, declared once: from this come its command-line flag, its environment
 * variable (`KMS_PLUGIN_<NAME>`), its config-file key, its default, its help text, its validation
 * and its entry in the JSON Schema of the config file (which the Helm chart's values schema is
 * generated from).
 */
export interface OptionSpec<T = unknown> {
  /** Placeholder of the value in --help ("path", "duration"); absent for a switch. */
  readonly value?: string;
  readonly help: string;
  /** The default as a user would write it ("24h", "0600"); lists default to [], switches to false. */
  readonly default?: string;
  /** A missing required option stops start-up with an error naming it. */
  readonly required?: boolean;
  /**
   * The option may be given several times; its value is a list. Every value, from each flag, the
   * environment or each element of the config file's JSON array, is a comma-separated list of
   * items (so an item cannot contain a comma).
   */
  readonly repeatable?: boolean;
  /** A credential (a token): never logged, never echoed in an error. */
  readonly secret?: boolean;
  /** Validates the raw value (a string, a boolean for a switch, a string array for a list) into T. */
  readonly schema: z.ZodType<T>;
}

/** A plugin's options by name (kebab-case, the flag without its dashes). */
export type OptionDecls = Readonly<Record<string, OptionSpec>>;

/** The validated values of a set of options. */
export type OptionValues<D extends OptionDecls> = { readonly [K in keyof D]: D[K] extends OptionSpec<infer T> ? T : never };

/** The flat view of one option, its name beside its spec (no schema): what the CLI, the READMEs and the tests list. */
export interface OptionDef extends Omit<OptionSpec, 'schema'> {
  readonly name: string;
}

/** Every env var is this prefix plus the flag name in SCREAMING_SNAKE_CASE. */
export const ENV_PREFIX = 'KMS_PLUGIN_';

export function envName(name: string): string {
  return ENV_PREFIX + name.toUpperCase().replace(/-/g, '_');
}

/** Declare a plugin's options (checks the names; the object is returned as it is, typed). */
export function defineOptions<const D extends OptionDecls>(decls: D): D {
  for (const [name, spec] of Object.entries(decls)) {
    if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(name)) throw new Error(`option name "${name}" must be kebab-case`);
    if (spec.repeatable && spec.value === undefined) throw new Error(`option --${name}: a list needs a value placeholder`);
  }
  return decls;
}

/** The flat list of options, in declaration order. */
export function optionDefs(decls: OptionDecls): OptionDef[] {
  return Object.entries(decls).map(([name, { schema: _schema, ...rest }]) => ({ name, ...rest }));
}

/**
 * Validate values keyed by option name (as the CLI resolves them, or as a library user writes
 * them): an absent or empty value takes the default, every value is checked by its schema, and
 * every problem is reported in one ConfigError, a line per option naming it.
 */
export function parseOptions<D extends OptionDecls>(decls: D, values: Readonly<Record<string, unknown>>): OptionValues<D> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(decls)) {
    let raw = values[name];
    if (raw === undefined || raw === '' || (Array.isArray(raw) && raw.length === 0 && spec.default !== undefined)) {
      raw =
        spec.default !== undefined
          ? spec.repeatable
            ? splitList([spec.default])
            : spec.default
          : spec.repeatable
            ? []
            : spec.value
              ? undefined
              : false;
    }
    if (spec.required && (raw === undefined || (Array.isArray(raw) && raw.length === 0))) {
      problems.push(`--${name} is required (or set ${envName(name)}, or "${name}" in the config file)`);
      continue;
    }
    const result = spec.schema.safeParse(raw);
    if (result.success) out[name] = result.data;
    else problems.push(...result.error.issues.map((i) => `--${name}: ${spec.secret ? 'invalid value' : i.message}`));
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return out as OptionValues<D>;
}

/**
 * The JSON Schema (draft 2020-12) of a config file holding these options: each a property with
 * its type, pattern or choices, help text and default; no other keys.
 */
export function optionsJsonSchema(decls: OptionDecls, title: string): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(decls)) {
    const shape = z.toJSONSchema(spec.schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    delete shape.$schema;
    properties[name] = {
      ...shape,
      description: spec.help,
      ...(spec.default !== undefined ? { default: spec.repeatable ? splitList([spec.default]) : spec.default } : {}),
      ...(spec.secret ? { writeOnly: true } : {}),
    };
  }
  const required = Object.entries(decls)
    .filter(([, s]) => s.required)
    .map(([name]) => name);
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title,
    type: 'object',
    properties,
    ...(required.length > 0 ? { required } : {}),
    additionalProperties: false,
  };
}

/** The items of comma-separated values: each value may hold several, spaces around them dropped. */
export function splitList(values: readonly string[]): string[] {
  return values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/** Schemas the options of every plugin share. */
export const schemas = {
  /** A duration, Go's syntax, into milliseconds, at least `minMs`. */
  duration(minMs = 0, why = `must be at least ${minMs}ms`): z.ZodType<number> {
    return z
      .string()
      .trim()
      .regex(GO_DURATION, 'must be a duration like 250ms, 30s, 5m, 1h30m or 24h')
      .transform((v) => parseDuration(v))
      .refine((ms) => ms >= minMs, why);
  },
  /** A whole number from `min` (to `max`), given as a number or a numeric string. */
  count(min: number, max = Number.MAX_SAFE_INTEGER, why?: string): z.ZodType<number> {
    return z.coerce
      .number()
      .int()
      .min(min)
      .max(max, why ?? `must be at most ${max}`);
  },
  /** One of fixed choices. */
  choice<const T extends readonly [string, ...string[]]>(choices: T): z.ZodType<T[number]> {
    return z.enum(choices);
  },
  /** A switch. */
  switch(): z.ZodType<boolean> {
    return z.boolean();
  },
};
