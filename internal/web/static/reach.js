// Keeps a code page's "where is my code" part live (partial "reach"):
// polls the page's status URL, puts the sentence and the status in place
// and, once the code did not arrive, reveals the "not delivered" box and
// moves the other ways up to it, without a reload. No inline script: the
// CSP allows only same-origin files.
(function () {
  "use strict";
  var box = document.getElementById("sent-to");
  if (!box || box.getAttribute("data-reach-url") === null || box.getAttribute("data-reach-url") === "") return;
  var url = box.getAttribute("data-reach-url");
  var sentence = document.getElementById("reach-sentence");
  var status = document.getElementById("delivery-status");
  var notice = document.getElementById("not-delivered");
  var tries = 0;
  function moveUp() {
    var ways = document.querySelector("[data-reach-ways]");
    if (notice && ways && notice.nextElementSibling !== ways) notice.parentNode.insertBefore(ways, notice.nextSibling);
  }
  function show(s) {
    if (sentence && s.sentence) sentence.textContent = s.sentence;
    if (status) { status.textContent = s.status_text; status.className = "status status-" + s.status; }
    if (s.offer_others && notice && notice.hidden) { notice.hidden = false; moveUp(); }
  }
  function poll() {
    if (++tries > 120) return; // stop after about 6 minutes
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s) { setTimeout(poll, 5000); return; }
        show(s);
        if (s.completed || s.status === "delivered" || s.status === "failed") return;
        setTimeout(poll, 3000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  if (notice && !notice.hidden) moveUp();
  setTimeout(poll, 3000);
})();
