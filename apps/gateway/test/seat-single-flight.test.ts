import { SeatSingleFlight } from "../src/forward/seat-single-flight";

describe("SeatSingleFlight", () => {
  it("lets the first hold of a seat through and refuses the ones waiting for it when it won", async () => {
    const flight = new SeatSingleFlight();
    const first = await flight.claim("seat:1:7");
    expect(first).toBeInstanceOf(Function);
    const waiting = [flight.claim("seat:1:7"), flight.claim("seat:1:7")];
    first!(201);
    expect(await Promise.all(waiting)).toEqual([undefined, undefined]);
    expect(flight.size).toBe(0);
  });

  it("after any other answer sends the waiting holds on one at a time", async () => {
    const flight = new SeatSingleFlight();
    const first = (await flight.claim("seat:1:7"))!;
    let secondIn = false;
    const second = flight.claim("seat:1:7").then((done) => {
      secondIn = true;
      return done;
    });
    const third = flight.claim("seat:1:7");
    await Promise.resolve();
    expect(secondIn).toBe(false);
    first(409);
    const done = await second;
    expect(done).toBeInstanceOf(Function);
    done!(201); // the second won: the third is refused
    expect(await third).toBeUndefined();
  });

  it("keeps seats apart", async () => {
    const flight = new SeatSingleFlight();
    const a = await flight.claim("seat:1:7");
    const b = await flight.claim("seat:1:8");
    expect([typeof a, typeof b, flight.size]).toEqual(["function", "function", 2]);
    a!(0);
    b!(0);
    expect(flight.size).toBe(0);
  });
});
