// tocsin dashboard: live updates without reloading.
// The page names a JSON route in <body data-live-url>; every few seconds this fetches it (same
// origin, session cookie) and rewrites the parts marked data-live="…". Data is written with
// textContent and setAttribute only — never innerHTML — because mention text is hostile.
"use strict";

(function () {
  var EVERY_MS = 5000;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function setText(root, name, text) {
    var node = root.querySelector('[data-live="' + name + '"]');
    if (node) node.textContent = text;
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function sev(n) {
    return el("span", "sev sev" + Number(n), "SEV" + Number(n));
  }

  function stateBadge(node, state) {
    if (!node) return;
    node.textContent = state;
    node.className = "state state-" + String(state).replace(/[^a-z]/g, "");
  }

  function incident(data) {
    stateBadge(document.querySelector('[data-live="state"]'), data.state);
    var badge = document.querySelector('[data-live="severity"]');
    if (badge) { clear(badge); badge.appendChild(sev(data.severity)); }
    setText(document, "age", data.age);
    setText(document, "acknowledged", data.acknowledged);
    setText(document, "assigned", data.assigned_to ? "Assigned to " + data.assigned_to + "." : "");
    setText(document, "snoozed", data.snoozed_until ? "Snoozed until " + data.snoozed_until + "." : "");
    var list = document.querySelector('[data-live="timeline"]');
    if (list) {
      clear(list);
      data.timeline.forEach(function (e) {
        var li = el("li");
        li.appendChild(el("span", "at", e.at));
        li.appendChild(document.createTextNode(" "));
        li.appendChild(el("span", "what", e.text));
        list.appendChild(li);
      });
    }
    var body = document.querySelector('[data-live="notifications"]');
    if (body && data.notifications.length) {
      clear(body);
      data.notifications.forEach(function (n) {
        var tr = el("tr");
        tr.appendChild(el("td", null, n.step));
        tr.appendChild(el("td", null, n.recipient + " (" + n.role + ")"));
        tr.appendChild(el("td", null, n.channel));
        var status = n.status + (n.attempts > 1 ? " (" + n.attempts + " tries)" : "") + (n.error ? ": " + n.error : "");
        tr.appendChild(el("td", "status-" + String(n.status).replace(/[^a-z]/g, ""), status));
        tr.appendChild(el("td", null, n.at));
        body.appendChild(tr);
      });
    }
    setText(document, "attempts", data.attempts);
    // Signals and packet versions only grow: rebuilt when their count changes, so a section
    // someone opened stays open between ticks.
    rebuild("signals", data.signals, function (s, i) {
      var d = el("details");
      if (i === 0) d.open = true;
      d.appendChild(el("summary", null, s.kind + " · SEV" + s.severity + " · " + s.at));
      d.appendChild(el("p", null, s.explanation));
      if (s.evidence.length) {
        var dl = el("dl", "evidence");
        s.evidence.forEach(function (kv) { dl.appendChild(el("dt", null, kv[0])); dl.appendChild(el("dd", null, kv[1])); });
        d.appendChild(dl);
      }
      if (s.top_mentions.length) {
        var ul = el("ul");
        s.top_mentions.forEach(function (m) { ul.appendChild(el("li", "text", m)); });
        d.appendChild(ul);
      }
      return d;
    });
    rebuild("versions", data.versions, function (v) {
      var li = el("li");
      var a = el("a", null, "Version " + v.version);
      a.setAttribute("href", v.href);
      li.appendChild(a);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("span", "muted", v.at));
      return li;
    }, "ul");
    if (data.state === "resolved") {
      document.querySelectorAll(".actions").forEach(function (a) { a.hidden = true; });
    }
  }

  // Rewrites the children of [data-live=name] from items (each made by make) when their
  // number differs from the node's data-count; wrap: an element to hold them (e.g. "ul").
  function rebuild(name, items, make, wrap) {
    var node = document.querySelector('[data-live="' + name + '"]');
    if (!node || !items || String(items.length) === node.getAttribute("data-count")) return;
    node.setAttribute("data-count", String(items.length));
    if (!items.length) return;
    clear(node);
    var holder = wrap ? el(wrap) : node;
    items.forEach(function (item, i) { holder.appendChild(make(item, i)); });
    if (wrap) node.appendChild(holder);
  }

  function card(node, c) {
    setText(node, "last-hour", c.last_hour);
    var level = setText(node, "level", c.level);
    if (level) level.className = "level level-" + String(c.level).replace(/[^a-z]+/g, "-");
    setText(node, "usual", c.usual ? "(usual " + c.usual + ")" : "");
    setText(node, "negative", c.negative_pct === null ? "no mentions in 24 h" : c.negative_pct + "% negative over 24 h");
    var src = c.sources_total === 0 ? "no source polled"
      : c.sources_down.length ? c.sources_down.length + " of " + c.sources_total + " sources down: " + c.sources_down.join(", ")
      : c.sources_total + " source(s) ok";
    setText(node, "sources", src);
    var spark = node.querySelector('[data-live="spark"]');
    if (spark) spark.setAttribute("points", c.spark.mentions);
    var band = node.querySelector('[data-live="band"]');
    if (band) band.setAttribute("points", c.spark.band);
    node.classList.toggle("attention", !!c.attention);
    var slot = node.querySelector('[data-live="incident"]');
    if (!slot) return;
    clear(slot);
    if (c.incident) {
      var a = el("a", "incident");
      a.setAttribute("href", "/incidents/" + Number(c.incident.id));
      a.appendChild(sev(c.incident.severity));
      a.appendChild(document.createTextNode(" "));
      var st = el("span");
      stateBadge(st, c.incident.state);
      a.appendChild(st);
      a.appendChild(document.createTextNode(" for " + c.incident.age + " — " + c.incident.title));
      slot.appendChild(a);
    } else {
      slot.appendChild(el("p", "muted", "No open incident."));
    }
  }

  function overview(data) {
    var open = 0;
    data.cards.forEach(function (c) {
      if (c.incident) open += 1;
      document.querySelectorAll(".card.topic").forEach(function (node) {
        if (node.getAttribute("data-topic") === c.topic) card(node, c);
      });
    });
    setText(document, "open-count", open);
  }

  function tick(url) {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        if (data.cards) overview(data); else incident(data);
        var stamp = document.querySelector('[data-live="updated"]');
        if (stamp) stamp.textContent = "live · updated " + new Date().toLocaleTimeString();
        document.body.setAttribute("data-live-ticks", String(Number(document.body.getAttribute("data-live-ticks") || 0) + 1));
      })
      .catch(function () {
        var stamp = document.querySelector('[data-live="updated"]');
        if (stamp) stamp.textContent = "live updates paused (connection lost); retrying";
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var url = document.body.getAttribute("data-live-url");
    if (!url) return;
    var every = Number(document.body.getAttribute("data-live-every")) || EVERY_MS;
    window.setInterval(function () { tick(url); }, every);
  });
})();
