/**
 * Dependency-free helpers any layer may use.
 * @module
 */
export { SlabAllocator } from "./slab.ts";
