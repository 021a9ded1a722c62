export { httpCall, toHeaders, type HttpOptions, type HttpReply } from "./http";
export { configRefusal, runEntryPoint } from "./config";
export { listenLoopback, type LoopbackServer } from "./loopback";
export { closedPort, freePort } from "./ports";
export { spawnReady, startRedisServer, type RedisServer, type RedisServerOptions } from "./redis-server";
export { sleep, testClock, until, type TestClock } from "./time";
export { AUDIENCE, ISSUER, bearer, jwtEnv, mint, startJwks, testKey, type JwksServer, type TestKey } from "./jwt";
export { signPassportFor, type PassportClaims, type PassportRequest } from "./passport";
