/**
 * Where the user called a builder function: the first stack frame outside proxykit's builder.
 * Uses V8's structured stack API, which is cheap enough at config time.
 */
import { fileURLToPath } from 'node:url';
import type { SourceLocation } from './spec.js';

/**
 * The location of the code that called `fn` (the frame just above `fn` on the stack), or
 * `undefined` when it has no file (eval, native). Returns a fresh, mutable object: the loader
 * rewrites `file`/`line`/`column` in place when it maps bundle positions back to the .ts source.
 *
 * @example
 * function route(match: string) { const at = callerLocation(route); ... }
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export function callerLocation(fn: Function): SourceLocation | undefined {
  const holder: { stack?: unknown } = {};
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  try {
    Error.prepareStackTrace = (_err, callsites) => callsites;
    Error.stackTraceLimit = 5;
    Error.captureStackTrace(holder, fn);
    const sites = holder.stack as NodeJS.CallSite[] | undefined;
    if (!Array.isArray(sites)) return undefined;
    for (const site of sites) {
      const name = site.getFileName();
      if (!name) continue;
      let file = name;
      if (file.startsWith('file://')) {
        try {
          file = fileURLToPath(file);
        } catch {
          file = file.slice('file://'.length);
        }
      }
      return { file, line: site.getLineNumber() ?? 0, column: site.getColumnNumber() ?? 0 };
    }
    return undefined;
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
}
