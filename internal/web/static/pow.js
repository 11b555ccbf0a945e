// Solves the support form's proof-of-work challenge in the browser (the
// ALTCHA format: find n in [0, maxNumber] with SHA-256(salt + n) equal to
// the challenge), with no third-party service. The form's submit button
// waits for it; the server checks the answer. No inline script: the CSP
// allows only same-origin files.
(function () {
  var form = document.getElementById("support-form");
  if (!form) return;
  var field = form.querySelector("input[name=altcha]");
  var button = document.getElementById("support-submit");
  var status = document.getElementById("pow-status");
  if (!field || !button || !window.crypto || !crypto.subtle) return;
  button.disabled = true;
  var enc = new TextEncoder();
  function hex(buf) {
    var b = new Uint8Array(buf), s = "";
    for (var i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
    return s;
  }
  async function solve(c) {
    for (var n = 0; n <= c.maxNumber; n++) {
      var h = hex(await crypto.subtle.digest("SHA-256", enc.encode(c.salt + n)));
      if (h === c.challenge) return n;
    }
    return -1;
  }
  fetch("/support/challenge", { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (r) { return r.json(); })
    .then(async function (c) {
      var n = await solve(c);
      if (n < 0) throw new Error("unsolved");
      field.value = btoa(JSON.stringify({ algorithm: c.algorithm, challenge: c.challenge, number: n, salt: c.salt, signature: c.signature }));
      button.disabled = false;
      if (status) { status.textContent = status.getAttribute("data-done"); status.setAttribute("data-solved", "true"); }
    })
    .catch(function () {
      button.disabled = false; // the server will say what went wrong
      if (status) status.textContent = status.getAttribute("data-failed");
    });
})();
