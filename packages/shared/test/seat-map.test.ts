import { encodeSeatState, readSeatView, seatMapKeys, seatVersion } from "../src/seat-map";

describe("the seat map read model's shared rules", () => {
  const at = 10_000;

  it("orders a seat's states by reservation, then held < sold < ended; a seat never held is 0", () => {
    expect(seatVersion(null, "ENDED")).toBe(0);
    expect([seatVersion(5, "HELD"), seatVersion(5, "SOLD"), seatVersion(5, "ENDED"), seatVersion(6, "HELD")]).toEqual([21, 22, 23, 25]);
    expect([
      encodeSeatState({ state: "FREE" }),
      encodeSeatState({ state: "SOLD" }),
      encodeSeatState({ state: "HELD", untilMs: 7 }),
    ]).toEqual(["F", "S", "H7"]);
  });

  it("reads the free seats: free ones and holds whose time ran out, ascending; sold and live holds are not free", () => {
    const view = `${at};50000;1,4,9;2:5000,7:6000,3:9000`;
    expect(readSeatView(view, 4_000)).toEqual({ startsAtMs: at, price: 50_000, free: [1, 4, 9] });
    expect(readSeatView(view, 5_000)?.free).toEqual([1, 2, 4, 9]); // a hold is free from its expiry on
    expect(readSeatView(view, 6_500)?.free).toEqual([1, 2, 4, 7, 9]);
  });

  it("shows no free seat once the performance started, and nothing for a map not built", () => {
    expect(readSeatView(`${at};50000;1,2;`, at)?.free).toEqual([]);
    expect(readSeatView(`${at};50000;;`, 1)?.free).toEqual([]);
    expect(readSeatView(null, 1)).toBeNull();
    expect(readSeatView(undefined, 1)).toBeNull();
  });

  it("keys one performance's map and one concert's entry by their ids, hash-tagged", () => {
    const keys = seatMapKeys("booking:q");
    expect([keys.performance(12), keys.concert(3)]).toEqual(["booking:q:seatmap:{12}", "booking:q:concert:{3}"]);
  });
});
