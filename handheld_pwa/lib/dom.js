/*
 * Usage:
 *   el.innerHTML = `<p>${esc(userText)}</p>`;
 *   showRaw("]C1…\x1d…")  // "]C1…⟨GS⟩…" for display only
 *   el.innerHTML = keepCodes("Go to A01-001-1 and scan it", ["A01-001-1"])  // escaped; each code on one line
 */

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export function showRaw(raw) {
  return String(raw).replace(/\x1d/g, "⟨GS⟩");
}

/** The text as HTML (escaped), each of these codes kept on one line: a location code never breaks at its hyphen. */
export function keepCodes(text, codes) {
  let html = esc(text);
  for (const code of new Set(codes.filter(Boolean))) html = html.split(esc(code)).join(`<span class="nowrap">${esc(code)}</span>`);
  return html;
}
