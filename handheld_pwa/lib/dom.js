/*
 * Usage:
 *   el.innerHTML = `<p>${esc(userText)}</p>`;
 *   showRaw("]C1…\x1d…")  // "]C1…⟨GS⟩…" for display only
 */

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export function showRaw(raw) {
  return String(raw).replace(/\x1d/g, "⟨GS⟩");
}
