// Step 1, join: the user id form; joining again later (a new token) goes through here too.
import { api } from "../api";
import { dom } from "../dom";
import { MAX_ID } from "../shared";
import { alertUser, clearMessages } from "../messages";
import type { Visitor } from "../state";
import { stopCountdown } from "./hold";
import { joinedRoom } from "../rooms";
import { admitted, startWaiting, stopWatching } from "./waiting";

/** The user id typed in the form, or null (with the field marked and an alert) when it is not one. */
export function readUserId(): number | null {
  const input = dom.userId;
  const userId = Number(input.value);
  if (!Number.isInteger(userId) || userId < 1 || userId > MAX_ID) {
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", "user-id-hint");
    alertUser("Please enter your user id: a positive whole number.", "VALIDATION_FAILED");
    input.focus();
    return null;
  }
  input.removeAttribute("aria-invalid");
  return userId;
}

/** The tab's memory (sessionStorage: it outlives a reload, not the tab): the last user id and their queue token. */
const USER_KEY = "userId";
const TOKEN_KEY = "queueToken";

/** The queue token this tab last got for the user, if any. */
function rememberedToken(userId: number): string | undefined {
  const [who, token] = (sessionStorage.getItem(TOKEN_KEY) ?? "").split(" ");
  return who === String(userId) && token ? token : undefined;
}

/** The session is over (paid): a reload must not queue the user again. */
export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * Asks for a place in the queue and follows it. The token this tab had for the user goes along:
 * it is what gets a live place back (a reload, "join again"); without it a user who holds a place
 * is refused ALREADY_QUEUED, and with a finished one they get a new place.
 */
export async function join(userId: number): Promise<void> {
  clearMessages();
  stopWatching();
  stopCountdown();
  const { result } = await api.join(userId, rememberedToken(userId), joinedRoom());
  const visitor: Visitor = { userId, token: result.token };
  sessionStorage.setItem(USER_KEY, String(userId));
  sessionStorage.setItem(TOKEN_KEY, `${userId} ${result.token}`);
  dom.who.textContent = `User ${userId}`;
  dom.who.hidden = false;
  if (result.status === "IN_PROGRESS") {
    void admitted(visitor);
    return;
  }
  startWaiting(visitor, result);
}

/** The user id to offer in the form: the one used in this tab before, or `?user=`. */
export function rememberedUserId(params: URLSearchParams): string | null {
  return sessionStorage.getItem(USER_KEY) ?? params.get("user");
}

/** The user whose place this tab holds a token for (it was reloaded mid-session), to resume at once. */
export function resumableUserId(): number | null {
  const userId = Number(sessionStorage.getItem(USER_KEY));
  return rememberedToken(userId) ? userId : null;
}
