/*
 * Usage: <wes-home></wes-home> with `.ctx` set (see app-shell.js).
 *
 * One big tile per job the signed-in user's roles allow.
 */

const TILES = [
  { route: "receive", label: "Receive", hint: "Dock: pallets and cases", roles: ["receiver", "supervisor", "admin"] },
  { route: "putaway", label: "Putaway", hint: "Move LPNs to their bins", roles: ["receiver", "picker", "supervisor", "admin"] },
  { route: "scan", label: "Scan check", hint: "What is this barcode?", roles: null },
];

export class HomeScreen extends HTMLElement {
  connectedCallback() {
    const { session } = this.ctx;
    const tiles = TILES.filter((t) => t.roles === null || session.hasRole(...t.roles));
    this.innerHTML = `<nav class="tiles">${tiles.map((t) => `
      <a class="tile" href="#/${t.route}" data-route="${t.route}">
        <span class="tile-label">${t.label}</span><span class="tile-hint">${t.hint}</span>
      </a>`).join("")}</nav>`;
  }
}

customElements.define("wes-home", HomeScreen);
