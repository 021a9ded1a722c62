import pino from "pino";
import { AppError } from "../src/errors";
import { bodyError, errorAnswer } from "../src/envelope";

describe("bodyError", () => {
  it("is a real AppError that answers exactly what body-parser's error of that type answers", () => {
    const logger = pino({ level: "silent" });
    const mine = bodyError("entity.parse.failed");
    expect(mine).toBeInstanceOf(AppError);
    expect(mine).not.toHaveProperty("type");
    const parsers = Object.assign(new SyntaxError("Unexpected token u in JSON"), { type: "entity.parse.failed", status: 400 });
    expect(errorAnswer(mine, logger, "r1")).toEqual(errorAnswer(parsers, logger, "r1"));
    expect(errorAnswer(mine, logger, "r1")).toEqual({
      status: 400,
      code: "VALIDATION_FAILED",
      body: { result: null, error: { code: "VALIDATION_FAILED", message: "Request body is not valid JSON" } },
      retryAfterSec: undefined,
    });
  });
});

describe("AppError", () => {
  it("captures no stack for a client error (an answer), and keeps one for a server error", () => {
    const limit = Error.stackTraceLimit;
    const refusal = new AppError("SEAT_UNAVAILABLE", "Seat 7 of performance 1 is not available");
    expect(refusal.stack).toBe("AppError: Seat 7 of performance 1 is not available");
    expect(refusal.status).toBe(409);
    expect(new AppError("VALIDATION_FAILED", "bad", undefined, 422).stack?.split("\n")).toHaveLength(1);
    expect(new AppError("SERVICE_UNAVAILABLE", "down").stack?.split("\n").length).toBeGreaterThan(1);
    expect(Error.stackTraceLimit).toBe(limit); // put back for every other error
  });
});
