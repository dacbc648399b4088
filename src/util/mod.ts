/**
 * Dependency-free helpers any layer may use.
 * @module
 */
export { randomId } from "./random_id.ts";
export { SlabAllocator } from "./slab.ts";
export { toError } from "./to_error.ts";
