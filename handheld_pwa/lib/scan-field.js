/*
 * Usage:
 *   <wes-scan-field label="Scan the dock" name="dock"></wes-scan-field>
 *   field.addEventListener("scan-entered", (e) => use(e.detail.raw));
 *
 * A large field that shows where scans go. It has inputmode="none" so the soft
 * keyboard stays away (DataWedge scans are caught at the document level and do
 * not need this field to have focus); the ⌨ button switches on the keyboard to
 * type a code by hand, and OK/Enter sends what was typed.
 */

import { esc } from "./dom.js";

export class ScanField extends HTMLElement {
  connectedCallback() {
    const label = this.getAttribute("label") || "Scan";
    const name = this.getAttribute("name") || "scan";
    this.innerHTML = `
      <form class="scan-form" autocomplete="off">
        <label class="field">${esc(label)}
          <span class="scan-row">
            <input class="scan-input" name="${esc(name)}" inputmode="none" autocomplete="off"
                   autocapitalize="none" spellcheck="false" placeholder="scan…">
            <button type="button" class="keyboard" aria-label="Type by hand">⌨</button>
            <button type="submit" class="ok">OK</button>
          </span>
        </label>
      </form>`;
    const input = this.querySelector("input");
    this.querySelector(".keyboard").addEventListener("click", () => {
      input.setAttribute("inputmode", input.getAttribute("inputmode") === "none" ? "text" : "none");
      input.blur();
      input.focus();
    });
    this.querySelector("form").addEventListener("submit", (event) => {
      event.preventDefault();
      const raw = input.value;
      input.value = "";
      if (raw.trim()) this.dispatchEvent(new CustomEvent("scan-entered", { detail: { raw }, bubbles: true }));
    });
  }
}

customElements.define("wes-scan-field", ScanField);
