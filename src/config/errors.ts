import type { SourceLocation } from './spec.js';

/** One thing wrong with a config: what, where, and how to fix it. */
export interface ConfigProblem {
  /** What is wrong, naming the thing: `pool "api": upstream "http//x" is not a URL`. */
  message: string;
  /** Where in the user's file the offending builder call stands. */
  at?: SourceLocation;
  /** How to fix it: `expected http://host:port`. */
  hint?: string;
}

const BRAND = Symbol.for('proxykit.error.PK_ERR_CONFIG');

/** Thrown when a config cannot be loaded, validated or compiled. Carries every problem found. */
export class ConfigError extends Error {
  readonly code = 'PK_ERR_CONFIG';
  readonly problems: ConfigProblem[];
  readonly [BRAND] = true;

  constructor(problems: ConfigProblem[]) {
    super(formatProblems(problems));
    this.name = 'ConfigError';
    this.problems = problems;
  }

  /** Brand check, so errors from another copy of proxykit (a config bundle) are recognised. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

export function formatLocation(at: SourceLocation | undefined): string {
  return at ? `${at.file}:${at.line}:${at.column}` : '';
}

/** `file:line:col message` lines, each followed by an indented `hint:` line when there is one. */
export function formatProblems(problems: ConfigProblem[]): string {
  return problems
    .map((p) => {
      const where = formatLocation(p.at);
      const head = where ? `${where} ${p.message}` : p.message;
      return p.hint ? `${head}\n  hint: ${p.hint}` : head;
    })
    .join('\n');
}
