/*
 * Usage: <wes-home></wes-home> with `.ctx` set (see app-shell.js).
 *
 * One big tile per job the signed-in user's roles allow; above them, the
 * enrollment card while this device has no device token (scans go to it).
 */

import "./enroll-card.js";

const TILES = [
  { route: "receive", label: "Receive", hint: "Dock: pallets and cases", roles: ["receiver", "supervisor", "admin"] },
  { route: "pick", label: "Pick", hint: "Next task, scan to confirm", roles: ["picker", "supervisor", "admin"] },
  { route: "putaway", label: "Putaway", hint: "Move LPNs to their bins", roles: ["receiver", "picker", "supervisor", "admin"] },
  { route: "scan", label: "Scan check", hint: "What is this barcode?", roles: null },
];

export class HomeScreen extends HTMLElement {
  connectedCallback() {
    const { session } = this.ctx;
    const tiles = TILES.filter((t) => t.roles === null || session.hasRole(...t.roles));
    const enroll = this.ctx.work.enrolled ? "" : "<wes-enroll></wes-enroll>";
    this.innerHTML = `${enroll}<nav class="tiles">${tiles.map((t) => `
      <a class="tile" href="#/${t.route}" data-route="${t.route}">
        <span class="tile-label">${t.label}</span><span class="tile-hint">${t.hint}</span>
      </a>`).join("")}</nav>`;
    const card = this.querySelector("wes-enroll");
    if (card) {
      card.ctx = this.ctx;
      card.addEventListener("enrolled", () => card.remove());
    }
  }

  onScan(raw) {
    const card = this.querySelector("wes-enroll");
    if (card) card.onScan(raw);
    else this.ctx.feedback.info("Choose a job first");
  }
}

customElements.define("wes-home", HomeScreen);
