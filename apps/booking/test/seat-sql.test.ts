import { dbClock, liveHoldCount, seatIsFree } from "../src/db/seat-sql";

describe("DbClock", () => {
  it("without an injected clock, the SQL stays on the database's clock", () => {
    const clock = dbClock();
    expect([clock.now().text, clock.now().values]).toEqual(["now()", []]);
    expect([clock.current().text, clock.current().values]).toEqual(["clock_timestamp()", []]);
  });

  it("with an injected clock, both times are its reading, read anew for every statement", () => {
    let t = Date.parse("2030-01-01T00:00:00Z");
    const clock = dbClock(() => new Date(t));
    expect([clock.now().text, clock.now().values]).toEqual(["$1::timestamptz", [new Date(t)]]);
    t += 1_100;
    expect(clock.current().values).toEqual([new Date(t)]);
  });

  it("the free-seat condition and the live-hold count compare against the clock they are given", () => {
    const at = new Date("2030-01-01T00:00:00Z");
    const now = dbClock(() => at).now();
    expect(seatIsFree(now).values).toEqual([at]);
    expect(liveHoldCount(5, now).values).toEqual([5, at]);
  });
});
