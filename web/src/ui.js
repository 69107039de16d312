// web/src/ui.js - what every view shares: the notice line (errors in the master's own
// words), the token dialog, and running an action with the token.
import { act, setToken, token } from "./api.js";

export function notify(text, kind = "error") {
  const el = document.getElementById("notice");
  el.textContent = text;
  el.className = kind;
  el.hidden = !text;
}

/* Ask for the token in the dialog; resolves to the token, or "" when dismissed. */
export function askToken() {
  const dlg = document.getElementById("token-dialog");
  const input = document.getElementById("token-input");
  input.value = token();
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => {
      if (dlg.returnValue === "save") setToken(input.value.trim());
      resolve(token());
    }, { once: true });
    dlg.showModal();
    input.focus();
  });
}

/* Run a write action; asks for the token first when none is kept. Shows the master's
 * refusal text and returns null, or returns the reply. */
export async function runAction(label, method, path, body) {
  if (!token() && !(await askToken())) {
    notify(`${label}: needs the master's token`);
    return null;
  }
  try {
    const reply = await act(method, path, body);
    notify(`${label}: done`, "ok");
    return reply ?? {};
  } catch (e) {
    notify(`${label} refused: ${e.message}`);
    return null;
  }
}

/* A view has its data on the page: the attribute the tests wait for, and a User Timing
 * mark ("udcs:VIEW:loaded") that the benchmark reads as time to first render. */
export function markLoaded(root) {
  if (root.dataset.loaded) return;
  root.dataset.loaded = "1";
  performance.mark(`udcs:${root.dataset.view}:loaded`);
}
