// Which concert a performance or reservation belongs to (forward/concert-of.ts): asked of booking
// once per id and kept, and asked once however many requests need the same id at the same time.
import { DependencyError, INTERNAL_PATHS } from "@concert/shared";
import { ConcertOf } from "../src/forward/concert-of";
import type { Forwarder, OperatorReply } from "../src/forward/forwarder";

/** A forwarder whose concert lookups stay unanswered until answer() or fail() (booking: performance 7 → concert 3, 8 → 4, reservation 90 → 3). */
function booking() {
  const calls: string[] = [];
  const waiting: { resolve: (r: OperatorReply) => void; reject: (e: Error) => void; path: string }[] = [];
  const forwarder = {
    operatorCall: (_method: string, path: string) => {
      calls.push(path);
      return new Promise<OperatorReply>((resolve, reject) => waiting.push({ resolve, reject, path }));
    },
  } as unknown as Forwarder;
  const known = { details: { 7: 3, 8: 4 } as Record<number, number>, reservations: { 90: 3 } as Record<number, number> };
  const answer = () => {
    for (const w of waiting.splice(0)) {
      const q = new URL(w.path, "http://booking").searchParams;
      const pick = (ids: string | null, from: Record<number, number>) =>
        Object.fromEntries((ids ?? "").split(",").flatMap((id) => (from[Number(id)] ? [[id, from[Number(id)]]] : [])));
      w.resolve({
        status: 200,
        envelope: {
          result: { details: pick(q.get("details"), known.details), reservations: pick(q.get("reservations"), known.reservations) },
          error: null,
        },
      });
    }
  };
  const fail = () => {
    for (const w of waiting.splice(0)) w.reject(new DependencyError("booking"));
  };
  return { forwarder, calls, answer, fail };
}

const settled = () => new Promise((r) => setImmediate(r));

describe("ConcertOf", () => {
  it("asks booking once for an id however many requests need it at once, then never again", async () => {
    const b = booking();
    const of = new ConcertOf(b.forwarder);
    const rush = Array.from({ length: 50 }, () => of.of([7], []));
    await settled();
    expect(b.calls).toEqual([`${INTERNAL_PATHS.concertOf}?details=7`]);
    b.answer();
    expect(await Promise.all(rush)).toEqual(Array.from({ length: 50 }, () => [3]));
    expect(await of.of([7], [])).toEqual([3]);
    expect(b.calls).toHaveLength(1);
  });

  it("asks only for the ids no lookup in flight covers, and waits for the one that does", async () => {
    const b = booking();
    const of = new ConcertOf(b.forwarder);
    const first = of.of([7], []);
    const second = of.of([7, 8], [90]);
    await settled();
    expect(b.calls).toEqual([`${INTERNAL_PATHS.concertOf}?details=7`, `${INTERNAL_PATHS.concertOf}?details=8&reservations=90`]);
    b.answer();
    expect(await first).toEqual([3]);
    expect((await second).sort()).toEqual([3, 4]);
  });

  it("fails every request waiting on a failed lookup, and asks again for the next", async () => {
    const b = booking();
    const of = new ConcertOf(b.forwarder);
    const rush = Array.from({ length: 5 }, () => of.of([7], []));
    await settled();
    b.fail();
    for (const r of await Promise.allSettled(rush)) expect(r).toMatchObject({ status: "rejected", reason: expect.any(DependencyError) });
    const again = of.of([7], []);
    await settled();
    expect(b.calls).toHaveLength(2);
    b.answer();
    expect(await again).toEqual([3]);
  });

  it("keeps nothing for an id booking does not know (booking answers the request itself: 404)", async () => {
    const b = booking();
    const of = new ConcertOf(b.forwarder);
    const unknown = of.of([99], []);
    await settled();
    b.answer();
    expect(await unknown).toEqual([]);
    const asked = of.of([99], []);
    await settled();
    expect(b.calls).toHaveLength(2);
    b.answer();
    await asked;
  });
});
