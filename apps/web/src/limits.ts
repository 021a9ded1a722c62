// The shared package's limits, from its source module that imports nothing: the package's index
// would bring zod, ioredis and Node modules into the browser bundle.
export { MAX_ID, SEATS_PER_PERFORMANCE } from "../../../packages/shared/src/limits";
