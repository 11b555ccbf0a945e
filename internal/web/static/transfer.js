// Moving to a new device: the old device's page learns that the account
// moved; the new device's page goes on once another device approves. No
// inline script (CSP script-src 'self'); same-origin fetches only.
(function () {
  "use strict";
  function poll(url, onData, tries) {
    if (tries > 600) return;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (!d || onData(d) !== false) setTimeout(function () { poll(url, onData, tries + 1); }, d ? 1500 : 3000); })
      .catch(function () { setTimeout(function () { poll(url, onData, tries + 1); }, 3000); });
  }
  // The old device: its code is shown until the new device uses it.
  var offer = document.getElementById("offer");
  if (offer) {
    poll("/transfer/offer/" + encodeURIComponent(offer.getAttribute("data-transfer")) + "/status", function (d) {
      var st = document.getElementById("offer-state");
      if (st) st.textContent = d.text;
      if (d.state === "offered") return true;
      offer.setAttribute("data-state", d.state);
      // The code is spent or void: show only what happened.
      Array.prototype.forEach.call(offer.children, function (el) { if (el !== st) el.hidden = true; });
      if (st) st.className = d.state === "completed" ? "notice" : "notice warn";
      return false;
    }, 0);
  }
  // The new device: waiting for the other device's approval.
  var waiting = document.getElementById("waiting");
  if (waiting) {
    poll("/transfer/status", function (d) {
      var st = document.getElementById("wait-state");
      if (st && d.text) st.textContent = d.text;
      if (d.approval === "pending" || d.approval === "") return true;
      document.getElementById("complete-form").submit();
      return false;
    }, 0);
  }
})();
