// tamga console: a little progressive enhancement. Every page works without it, except the
// in-browser proof check, which is the point of doing it in the browser.
"use strict";
(function () {
  function hex(buf) {
    return Array.from(new Uint8Array(buf)).map(function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }
  function unhex(s) {
    var out = new Uint8Array(s.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
    return out;
  }
  function unb64(s) {
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function sha256(prefix, parts) {
    var len = 1 + parts.reduce(function (n, p) { return n + p.length; }, 0);
    var buf = new Uint8Array(len), at = 1;
    buf[0] = prefix;
    parts.forEach(function (p) { buf.set(p, at); at += p.length; });
    return crypto.subtle.digest("SHA-256", buf).then(function (d) { return new Uint8Array(d); });
  }
  // RFC 9162 §2.1.3.2: verifying an inclusion proof.
  async function rootFromPath(index, size, leaf, path) {
    if (index >= size) return null;
    var fn = index, sn = size - 1, r = leaf;
    for (var i = 0; i < path.length; i++) {
      var p = path[i];
      if (sn === 0) return null;
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(1, [p, r]);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
        }
      } else {
        r = await sha256(1, [r, p]);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 ? r : null;
  }
  async function checkProof(out) {
    var data = JSON.parse(document.getElementById("proof-data").textContent);
    // The root is taken from the signed checkpoint note (line 3), not from the proof.
    var lines = data.note.split("\n");
    var noteSize = parseInt(lines[1], 10);
    var noteRoot = hex(unb64(lines[2]));
    var leaf = await sha256(0, [unb64(data.entry)]);
    var steps = [];
    var ok = hex(leaf) === data.proof.leaf_hash;
    steps.push("leaf " + hex(leaf) + (ok ? " = " : " ≠ ") + "proof");
    ok = ok && noteSize === data.proof.size;
    var root = ok ? await rootFromPath(data.proof.index, data.proof.size, leaf, data.proof.proof.map(unhex)) : null;
    ok = ok && root !== null && hex(root) === noteRoot;
    steps.push("root " + (root ? hex(root) : "-") + (ok ? " = " : " ≠ ") + noteRoot);
    out.textContent = (ok ? out.dataset.ok : out.dataset.bad) + " " + steps.join("; ");
    out.className = ok ? "ok" : "bad";
    out.dataset.result = ok ? "verified" : "failed";
  }
  function poll(el) {
    var bar = el.querySelector("progress"), text = el.querySelector("[data-text]");
    function tick() {
      fetch(el.dataset.poll, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (j) {
          if (j.total > 0) { bar.max = j.total; bar.value = j.done; }
          if (text) text.textContent = j.done + " / " + j.total;
          if (j.finished) { window.location.reload(); } else { setTimeout(tick, 300); }
        })
        .catch(function () { setTimeout(tick, 1000); });
    }
    tick();
  }
  document.addEventListener("DOMContentLoaded", function () {
    var btn = document.getElementById("check-proof");
    if (btn) {
      var out = document.getElementById("proof-result");
      btn.hidden = false;
      btn.addEventListener("click", function () {
        checkProof(out).catch(function (e) { out.textContent = out.dataset.bad + " " + e; out.dataset.result = "failed"; });
      });
    }
    document.querySelectorAll("[data-poll]").forEach(poll);
  });
})();
