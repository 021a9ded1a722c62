import { readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import * as api from "../src/api";
import * as limits from "../src/limits";

// apps/web bundles src/limits.ts from source for the browser: one import there would bring its
// module (zod, ioredis, Node built-ins) into the waiting-room page without failing any build.
it("limits.ts imports nothing, so the waiting-room page can bundle it", () => {
  const source = readFileSync(join(__dirname, "..", "src", "limits.ts"), "utf8");
  const { importedFiles, referencedFiles, typeReferenceDirectives } = ts.preProcessFile(source, true, true);
  expect([...importedFiles, ...referencedFiles, ...typeReferenceDirectives].map((f) => f.fileName)).toEqual([]);
});

it("api.ts passes the limits on as they are, for the code that imports them from there", () => {
  expect({ MAX_ID: api.MAX_ID, SEATS_PER_PERFORMANCE: api.SEATS_PER_PERFORMANCE }).toEqual({ ...limits });
});
