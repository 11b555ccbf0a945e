// The second step of signing in, passkeys and approve-or-deny prompts.
// No inline script: the CSP allows only same-origin files. Every POST
// carries the page's CSRF token (data-csrf) in a header.
(function () {
  "use strict";
  function b64uToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function bufToB64u(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function post(url, csrf, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? "{}" : JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) throw new Error(j.detail || j.title || ("HTTP " + r.status));
        return j;
      });
    });
  }
  function creationOptions(pk) {
    pk.challenge = b64uToBuf(pk.challenge);
    pk.user.id = b64uToBuf(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = b64uToBuf(c.id); });
    return pk;
  }
  function requestOptions(pk) {
    pk.challenge = b64uToBuf(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = b64uToBuf(c.id); });
    return pk;
  }
  function credentialJSON(cred) {
    var r = cred.response, out = { id: cred.id, rawId: bufToB64u(cred.rawId), type: cred.type, response: {} };
    out.response.clientDataJSON = bufToB64u(r.clientDataJSON);
    if (r.attestationObject) {
      out.response.attestationObject = bufToB64u(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    }
    if (r.authenticatorData) out.response.authenticatorData = bufToB64u(r.authenticatorData);
    if (r.signature) out.response.signature = bufToB64u(r.signature);
    if (r.userHandle) out.response.userHandle = bufToB64u(r.userHandle);
    return out;
  }
  // Passkey buttons: data-passkey = "add" | "verify" | "signin".
  document.querySelectorAll("[data-passkey]").forEach(function (btn) {
    btn.addEventListener("click", function (ev) {
      ev.preventDefault();
      var mode = btn.getAttribute("data-passkey"), csrf = btn.getAttribute("data-csrf");
      var errBox = document.getElementById("passkey-error");
      var urls = {
        add: ["/account/passkeys/options", "/account/passkeys"],
        verify: ["/signin/verify/passkey/options", "/signin/verify/passkey"],
        signin: ["/signin/passkey/options", "/signin/passkey"],
        unlock: ["/locked/passkey/options", "/locked/passkey"],
        transfer: ["/transfer/passkey/options", "/transfer/passkey"]
      }[mode];
      var extra = "";
      var name = document.getElementById("passkey-name");
      if (mode === "add" && name) extra = "&name=" + encodeURIComponent(name.value);
      var remember = document.getElementById("remember");
      if (mode === "verify" && remember && remember.checked) extra = "&remember=1";
      btn.disabled = true;
      post(urls[0], csrf).then(function (opts) {
        var pk = opts.publicKey;
        var p = mode === "add" ? navigator.credentials.create({ publicKey: creationOptions(pk) })
                               : navigator.credentials.get({ publicKey: requestOptions(pk) });
        return p.then(function (cred) {
          return post(urls[1] + "?ceremony=" + encodeURIComponent(opts.ceremony_id) + extra, csrf, credentialJSON(cred));
        });
      }).then(function (res) {
        location.assign(res.next);
      }).catch(function (e) {
        btn.disabled = false;
        // The page's own words only: the browser's exception text (e.message)
        // is English whatever the page's language, so it goes to the console.
        if (window.console) console.warn("passkey:", e && e.name, e && e.message);
        if (errBox) { errBox.textContent = errBox.getAttribute("data-text"); errBox.hidden = false; }
      });
    });
  });
  // The waiting page: poll until a trusted session decides.
  var waiting = document.getElementById("waiting");
  if (waiting) {
    var tries = 0;
    var poll = function () {
      if (++tries > 400) return;
      fetch("/signin/verify/status", { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) { setTimeout(poll, 3000); return; }
          var st = document.getElementById("wait-state");
          if (st) st.textContent = s.text;
          if (s.state !== "pending") { document.getElementById("complete-form").submit(); return; }
          setTimeout(poll, 1500);
        })
        .catch(function () { setTimeout(poll, 3000); });
    };
    setTimeout(poll, 1000);
  }
  // The account page: show approve-or-deny prompts as they arrive.
  var box = document.getElementById("approvals");
  if (box) {
    var csrf = box.getAttribute("data-csrf"), shown = "";
    var render = function (data) {
      var key = data.prompts.map(function (p) { return p.id; }).join(",");
      if (key === shown) return;
      shown = key;
      box.textContent = "";
      box.hidden = data.prompts.length === 0;
      data.prompts.forEach(function (p) {
        var div = document.createElement("div");
        div.className = "prompt notice warn";
        div.setAttribute("data-prompt", p.id);
        var h = document.createElement("strong");
        h.textContent = p.title || data.labels.title;
        var q = document.createElement("p");
        q.textContent = p.question + " · " + p.at;
        var u = document.createElement("p");
        u.className = "muted";
        u.textContent = data.labels.until + " " + p.expires_at;
        div.appendChild(h); div.appendChild(q); div.appendChild(u);
        ["approve", "deny"].forEach(function (d) {
          var f = document.createElement("form");
          f.method = "post"; f.action = "/account/approvals/" + encodeURIComponent(p.id); f.className = "inline";
          [["csrf", csrf], ["decision", d]].forEach(function (kv) {
            var i = document.createElement("input");
            i.type = "hidden"; i.name = kv[0]; i.value = kv[1]; f.appendChild(i);
          });
          var b = document.createElement("button");
          b.type = "submit"; b.id = d + "-" + p.id; b.className = d === "deny" ? "secondary " + d : d;
          b.textContent = data.labels[d];
          f.appendChild(b); div.appendChild(f);
        });
        box.appendChild(div);
      });
    };
    var check = function () {
      fetch("/account/approvals.json", { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (d) { if (d) render(d); setTimeout(check, 2000); })
        .catch(function () { setTimeout(check, 5000); });
    };
    check();
  }
})();
