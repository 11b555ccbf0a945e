// Keeps the delivery status on the code page live: polls the flow's status
// and, once the code was not delivered, reloads so the page offers the other
// ways in first. No inline script: the CSP allows only same-origin files.
(function () {
  var box = document.getElementById("sent-to");
  var status = document.getElementById("delivery-status");
  if (!box || !status) return;
  var flow = box.getAttribute("data-flow");
  var tries = 0;
  function poll() {
    if (++tries > 120) return; // stop after about 6 minutes
    fetch("/verify/" + encodeURIComponent(flow) + "/status", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s) return;
        status.textContent = s.status_text;
        status.className = "status status-" + s.status;
        if (s.offer_others && !document.getElementById("not-delivered")) { location.reload(); return; }
        setTimeout(poll, 3000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 3000);
})();
