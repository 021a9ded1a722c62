/**
 * At most one hold per seat in flight from this instance. In a rush for one seat the booking gate
 * key does not exist yet for the first arrivals; letting them all cross to booking only to lose
 * there costs booking the most exactly when it is busiest. So the first hold of a seat is sent and
 * the others wait for its answer: when it won (201) they are refused here, after any other answer
 * each of them goes on (one at a time) as usual. Booking still decides between instances.
 */
export class SeatSingleFlight {
  /** seat key → the answer status of the hold of that seat this instance is sending now */
  private readonly inFlight = new Map<string, Promise<number>>();

  /** The status that means "this hold won the seat": the waiting holds of the seat are refused. */
  static readonly WON = 201;

  /**
   * Waits for every hold of `key` in flight; returns undefined when one of them won (refuse this
   * one), else makes this one the hold in flight and returns what to call with its answer status
   * (0 when it got none).
   */
  async claim(key: string): Promise<((status: number) => void) | undefined> {
    for (let sending = this.inFlight.get(key); sending; sending = this.inFlight.get(key)) {
      if ((await sending) === SeatSingleFlight.WON) return undefined;
    }
    // (no await between the check above and this: the next hold of the seat sees it)
    let done!: (status: number) => void;
    this.inFlight.set(key, new Promise<number>((resolve) => (done = resolve)));
    return (status) => {
      this.inFlight.delete(key);
      done(status);
    };
  }

  /** Seats with a hold in flight (tests). */
  get size(): number {
    return this.inFlight.size;
  }
}
