/** Small helpers shared by the `csc` subcommands: typed flag parsing with clear errors. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { BACKEND_CHOICES, type BackendChoice } from '../nn/backend.ts';

/** A command-line mistake; the CLI prints the message and the subcommand's usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** `parseArgs` with unknown flags and bad values reported as {@link UsageError}. */
export function parseFlags<O extends Options>(argv: readonly string[], options: O, allowPositionals = false): ReturnType<typeof parseArgs<{ options: O; allowPositionals: boolean; strict: true; args: string[] }>> {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

/** Parses a number flag; `what` names the flag in the error. */
export function numberFlag(value: string | undefined, what: string, check: (v: number) => boolean = Number.isFinite, expected = 'a number'): number | undefined {
  if (value === undefined) return undefined;
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v) || !check(v)) throw new UsageError(`${what} ${JSON.stringify(value)}: expected ${expected}`);
  return v;
}

/** Parses `a,b,c` into a list of non-empty strings. */
export function listFlag(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Checks `--backend`: one of {@link BACKEND_CHOICES}, or undefined when the flag is absent. */
export function backendFlag(value: string | undefined): BackendChoice | undefined {
  if (value !== undefined && !BACKEND_CHOICES.includes(value as BackendChoice)) throw new UsageError(`--backend ${value}: expected one of ${BACKEND_CHOICES.join(', ')}`);
  return value as BackendChoice | undefined;
}
