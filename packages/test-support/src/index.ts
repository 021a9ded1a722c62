export { httpCall, toHeaders, type HttpOptions, type HttpReply } from "./http";
export { closedPort, freePort } from "./ports";
export { startRedisServer, type RedisServer, type RedisServerOptions } from "./redis-server";
export { sleep, testClock, until, type TestClock } from "./time";
