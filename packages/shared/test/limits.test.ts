import { readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import * as api from "../src/api";
import * as limits from "../src/limits";
import { pathOf } from "../src/route-paths";

// apps/web bundles src/limits.ts from source for the browser: one import there would bring its
// module (zod, ioredis, Node built-ins) into the waiting-room page without failing any build.
it.each(["limits.ts", "console-limits.ts", "route-paths.ts"])("%s imports nothing, so the waiting-room page can bundle it", (file) => {
  const source = readFileSync(join(__dirname, "..", "src", file), "utf8");
  const { importedFiles, referencedFiles, typeReferenceDirectives } = ts.preProcessFile(source, true, true);
  expect([...importedFiles, ...referencedFiles, ...typeReferenceDirectives].map((f) => f.fileName)).toEqual([]);
});

it("pathOf fills a route's ids into its path and refuses a missing one", () => {
  expect(pathOf("pollToken", { userId: 7 })).toBe("/api/users/7/token");
  expect(pathOf("issueToken")).toBe("/api/users/token");
  expect(() => pathOf("freeSeats")).toThrow(":concertDetailId");
});

it("api.ts passes the limits on as they are, for the code that imports them from there", () => {
  const { DEFAULT_MAX_HOLDS_PER_USER, MAX_ID, MAX_SEATS_PER_HOLD, RESERVATION_PAGE, SEATS_PER_PERFORMANCE } = api;
  expect({ DEFAULT_MAX_HOLDS_PER_USER, MAX_ID, MAX_SEATS_PER_HOLD, RESERVATION_PAGE, SEATS_PER_PERFORMANCE }).toEqual({ ...limits });
});
