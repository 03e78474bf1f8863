/*
 * Usage:
 *   el.innerHTML = `<p>${esc(userText)}</p>`;
 *   showRaw("]C1…\x1d…")  // "]C1…⟨GS⟩…" for display only
 *   buzz("ok" | "error")  // short vibration where the device has one
 */

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export function showRaw(raw) {
  return String(raw).replace(/\x1d/g, "⟨GS⟩");
}

export function buzz(kind) {
  if (typeof navigator.vibrate !== "function") return;
  navigator.vibrate(kind === "ok" ? 60 : [180, 80, 180]);
}
