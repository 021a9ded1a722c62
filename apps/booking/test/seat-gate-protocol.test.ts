import { protocolProblems } from "@concert/shared";
import { SEAT_GATE_SCRIPTS } from "../src/reservations/seat-gate";

describe("the seat gate scripts' protocol", () => {
  it.each(SEAT_GATE_SCRIPTS.map((s) => [s.name, s] as const))("%s returns only codes it names and reads KEYS/ARGV by name", (_, script) => {
    expect(protocolProblems(script)).toEqual([]);
  });
});
