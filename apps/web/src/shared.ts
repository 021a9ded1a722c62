// What the page takes from the shared package, from its source modules that import nothing: the
// package's index would bring zod, ioredis and Node modules into the browser bundle.
export { DEFAULT_MAX_HOLDS_PER_USER, MAX_ID, SEATS_PER_PERFORMANCE } from "../../../packages/shared/src/limits";
export { ROOMS_PATH, pathOf } from "../../../packages/shared/src/route-paths";
