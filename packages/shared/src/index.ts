export * from "./errors";
export * from "./envelope";
export * from "./passport";
export * from "./config";
export * from "./logger";
export * from "./redis";
export * from "./api";
export * from "./queue-store";
