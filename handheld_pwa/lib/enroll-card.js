/*
 * Usage: <wes-enroll></wes-enroll> with `.ctx` set; card.onScan(raw) takes a scanned enrollment QR or token;
 *   card.addEventListener("enrolled", () => …).
 *
 * A device is enrolled once: a supervisor creates it and shows a one-time
 * token (or its QR code, JSON {"wes":"enroll","token":…}); the worker scans or
 * types it here and the device token is kept in localStorage from then on.
 */



export function enrollmentToken(raw) {
  // A scanner set to send AIM symbology identifiers puts "]Q1" (QR) or "]C0" before the data.
  const text = String(raw).trim().replace(/^\][A-Za-z][0-9A-Za-z]/, "");
  if (text.startsWith("{")) {
    try {
      const qr = JSON.parse(text);
      if (qr && qr.wes === "enroll" && typeof qr.token === "string") return qr.token;
    } catch { /* not the QR payload: treat it as the token itself */ }
  }
  return text;
}

export class EnrollCard extends HTMLElement {
  connectedCallback() {
    this.innerHTML = `
      <form class="card stack enroll-form" autocomplete="off">
        <p class="prompt">This device is not enrolled yet</p>
        <p class="caption">Scan the enrollment QR code from your supervisor, or type its token.</p>
        <label class="field">Enrollment token
          <input name="enrollment_token" class="scan-input" autocapitalize="none" spellcheck="false">
        </label>
        <button type="submit" class="big primary">Enroll device</button>
      </form>`;
    this.querySelector("form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = this.querySelector("input");
      const token = input.value;
      input.value = "";
      if (token.trim()) this.enroll(token);
    });
  }

  onScan(raw) {
    this.enroll(raw);
  }

  async enroll(raw) {
    const { work, feedback } = this.ctx;
    const button = this.querySelector("button");
    button.disabled = true;
    feedback.info("Enrolling this device…");
    try {
      const out = await work.enroll(enrollmentToken(raw));
      feedback.ok(`This device is ${out.device.name} at ${out.device.site}`);
      this.dispatchEvent(new CustomEvent("enrolled", { bubbles: true, detail: out }));
    } catch (err) {
      feedback.error(err);
    } finally {
      button.disabled = false;
    }
  }
}

customElements.define("wes-enroll", EnrollCard);
