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
