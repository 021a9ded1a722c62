// The two live regions: the notice (role=status) for news, the alert (role=alert) for refusals.
import { dom } from "./dom";

export interface AlertAction {
  label: string;
  run(): void;
}

export function notify(text: string): void {
  dom.notice.textContent = text;
}

export function clearMessages(): void {
  dom.notice.textContent = "";
  dom.alert.hidden = true;
  delete document.body.dataset.error;
}

/** Shows a refusal; `action` adds one button (e.g. "Join the queue again"), which gets the focus. */
export function alertUser(text: string, code: string, action?: AlertAction): void {
  dom.notice.textContent = "";
  dom.alertText.textContent = text;
  document.body.dataset.error = code;
  const button = dom.alertAction;
  button.hidden = !action;
  button.onclick = null;
  if (action) {
    button.textContent = action.label;
    button.onclick = () => {
      clearMessages();
      action.run();
    };
  }
  dom.alert.hidden = false;
  if (action) button.focus();
}
