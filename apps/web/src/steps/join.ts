// Step 1, join: the user id form; joining again later (a new token) goes through here too.
import { api } from "../api";
import { dom } from "../dom";
import { MAX_ID } from "../shared";
import { alertUser, clearMessages } from "../messages";
import type { Visitor } from "../state";
import { stopCountdown } from "./hold";
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

/** Asks for a place in the queue (the same one again if the user already has one) and follows it. */
export async function join(userId: number): Promise<void> {
  clearMessages();
  stopWatching();
  stopCountdown();
  const { result } = await api.join(userId);
  const visitor: Visitor = { userId, token: result.token };
  sessionStorage.setItem("userId", String(userId));
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
  return sessionStorage.getItem("userId") ?? params.get("user");
}
