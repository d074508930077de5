/** Type-test helpers (Drizzle's `type-tests/utils.ts`). */
export function Expect<T extends true>(): void {}
export type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;
