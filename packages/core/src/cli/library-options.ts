import type { z } from 'zod';
import { ConfigError } from '../config-error.js';
import type { OptionDecls } from './options.js';

/** "decrypt-key-name" → "decryptKeyName". */
type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;
type Required<D extends OptionDecls> = { [K in keyof D]: D[K]['required'] extends true ? K : never }[keyof D];
type InputOf<S> = S extends z.ZodType ? z.input<S> : never;

/**
 * The library face of a set of option declarations: each flag in camelCase (`--decrypt-key` →
 * `decryptKey`), typed as the flag takes it (a string, a list of strings, a boolean for a
 * switch), required exactly where the flag is; every other option takes its flag's default.
 */
export type LibraryOptions<D extends OptionDecls> = {
  readonly [K in Required<D> as CamelCase<K & string>]: InputOf<D[K]['schema']>;
} & {
  readonly [K in Exclude<keyof D, Required<D>> as CamelCase<K & string>]?: InputOf<D[K]['schema']>;
};

/** The camelCase name of a flag. */
export function camelCase(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Library options (camelCase) as the flag-keyed record a backend's parse function takes; a key
 * that names no option is refused (a ConfigError naming it), as an unknown flag is.
 */
export function flagKeyed<D extends OptionDecls>(decls: D, options: LibraryOptions<D>): Record<string, unknown> {
  const byCamel = new Map(Object.keys(decls).map((flag) => [camelCase(flag), flag]));
  const out: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(options)) {
    const flag = byCamel.get(key);
    if (flag === undefined) unknown.push(key);
    else if (value !== undefined) out[flag] = value;
  }
  if (unknown.length > 0) throw new ConfigError(`unknown option${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`);
  return out;
}
