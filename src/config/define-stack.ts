import type { StackConfig } from './schema.js';

/** Typed form of the stack file: `export default defineStack({...})` in groundwork.config.ts. */
export function defineStack(stack: StackConfig): StackConfig {
  return stack;
}
