// One user action at a time, and one place that refusals go to.
import { ApiError } from "./api";

type RefusalHandler = (err: ApiError) => void;

let handleRefusal: RefusalHandler = (err) => {
  throw err;
};
let busy = false;

/** main.ts installs the handler (refusals.ts), so that the steps, which refuse, need not import it. */
export function handleRefusalsWith(handler: RefusalHandler): void {
  handleRefusal = handler;
}

/** Hands a refusal (or anything thrown) to the refusal handler; anything else counts as INTERNAL. */
export function refuse(err: unknown): void {
  handleRefusal(err instanceof ApiError ? err : new ApiError("INTERNAL", String(err), 0));
}

/** Runs one user action at a time (no double submits); refusals go to the refusal handler. */
export async function act(button: HTMLButtonElement | null, work: () => Promise<void>): Promise<void> {
  if (busy) return;
  busy = true;
  if (button) button.disabled = true;
  button?.setAttribute("aria-busy", "true");
  try {
    await work();
  } catch (err) {
    refuse(err);
  } finally {
    busy = false;
    if (button) {
      button.removeAttribute("aria-busy");
      if (button.isConnected) button.disabled = false;
    }
  }
}
