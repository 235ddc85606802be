/* Urgent pages, progressively enhanced: live previews while composing, a live status board.
   Every page works without this file; it only saves a click (preview) and a reload (board). */
(function () {
  "use strict";

  function isJson(response) {
    return (response.headers.get("content-type") || "").indexOf("application/json") === 0;
  }

  /* The compose form: each change asks the server for every channel's preview (debounced). */
  function livePreview(form) {
    var target = document.getElementById(form.getAttribute("data-preview-target"));
    var url = form.getAttribute("data-live-preview");
    var timer = null;
    var asked = 0;
    /* a short status line is announced, never the whole previews (hundreds of characters) */
    var status = document.querySelector("[data-preview-status]");
    if (!target || !url) { return; }

    function refresh() {
      var mine = ++asked;
      fetch(url, {
        method: "POST", credentials: "same-origin", headers: {"Accept": "application/json"},
        body: new URLSearchParams(new FormData(form))
      }).then(function (response) {
        if (!isJson(response)) { throw new Error("not json"); }
        return response.json();
      }).then(function (data) {
        if (mine !== asked) { return; }  /* an older answer arriving late */
        target.innerHTML = data.html;
        target.setAttribute("data-live", data.ok ? "ok" : "problems");
        if (status && data.status && status.textContent !== data.status) {
          status.textContent = data.status;
        }
      }).catch(function () {
        target.setAttribute("data-live", "unavailable");  /* the Preview button still works */
      });
    }

    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 400);
    }

    form.addEventListener("input", later);
    form.addEventListener("change", later);
    if (form.querySelector("[name=title]").value) { refresh(); }
  }

  /* A confirmation form is sent once: a second press while the first is on its way does nothing. */
  function sendOnce(form) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-sent") === "true") {
        event.preventDefault();
        return;
      }
      form.setAttribute("data-sent", "true");
    });
  }

  /* "中文 / English": each part marked with its language, as the server's pages do */
  function bilingual(element, text) {
    var found = /^(.*?[^\x00-\x7f].*?) \/ ([A-Za-z("'].*)$/.exec(text || "");
    if (!found) { element.textContent = text; return; }
    var zh = document.createElement("span");
    var en = document.createElement("span");
    zh.lang = "zh-CN";
    zh.textContent = found[1];
    en.lang = "en";
    en.textContent = found[2];
    element.replaceChildren(zh, " / ", en);
  }

  function setCell(row, cell, openText, newWindowText) {
    var state = row.querySelector("[data-state]");
    if (state && state.getAttribute("data-state") !== cell.state) {
      state.setAttribute("data-state", cell.state);
      state.className = "state state-" + cell.state;
      state.textContent = cell.state_label;
    }
    row.querySelector("[data-accepted]").textContent = cell.accepted;
    row.querySelector("[data-public]").textContent = cell.public;
    var detail = row.querySelector("[data-detail]");
    if (detail.textContent !== cell.detail) { bilingual(detail, cell.detail); }
    var link = row.querySelector("[data-url]");
    var href = /^https?:\/\//.test(cell.url || "") ? cell.url : null;
    var shown = link.querySelector("a");
    if (href && (!shown || shown.getAttribute("href") !== href)) {
      var anchor = document.createElement("a");
      anchor.href = href;
      anchor.rel = "noopener noreferrer";
      anchor.target = "_blank";
      anchor.textContent = openText;
      if (newWindowText) {  /* a link that opens a new window says so */
        var hint = document.createElement("span");
        hint.className = "hint";
        hint.textContent = newWindowText;
        anchor.appendChild(hint);
      }
      link.replaceChildren(anchor);
    } else if (!href && shown) {
      link.replaceChildren();
    }
  }

  /* The status board: asks every second while something is on its way, every 10 s after. */
  function liveBoard(section) {
    var url = section.getAttribute("data-status-url");
    var cells = Number(section.getAttribute("data-cells"));
    var live = section.querySelector("[data-live]");
    var note = section.querySelector("[data-board-note]");
    var announce = section.querySelector("[data-board-status]");
    if (live) { live.hidden = false; }

    function say(text) {
      if (note) { note.textContent = text; note.hidden = false; }
    }

    function tick() {
      fetch(url, {credentials: "same-origin", cache: "no-store",
                  headers: {"Accept": "application/json"}}).then(function (response) {
        if (!response.ok || !isJson(response)) { throw new Error("status " + response.status); }
        return response.json();
      }).then(function (data) {
        data.cells.forEach(function (cell) {
          var row = section.querySelector('[data-cell="' + CSS.escape(cell.id) + '"]');
          if (row) {
            setCell(row, cell, section.getAttribute("data-open-text"),
                    section.getAttribute("data-new-window-text"));
          }
        });
        var changed = [];
        data.summaries.forEach(function (summary) {
          var shown = section.querySelector('[data-summary-for="' + CSS.escape(summary.release) + '"]');
          if (shown && shown.textContent !== summary.text) {
            shown.textContent = summary.text;
            var caption = shown.closest("caption");
            var step = caption ? caption.getAttribute("data-step-label") : "";
            var colon = document.documentElement.lang === "en" ? ": " : "：";
            changed.push(step ? step + colon + summary.text : summary.text);
          }
        });
        if (announce && changed.length) {  /* one short line, e.g. "首报：3/3 已发布" */
          announce.textContent = changed.join("; ");
        }
        var notice = document.querySelector("[data-notice]");
        if (notice && data.banner && notice.textContent !== data.banner.text) {
          notice.textContent = data.banner.text;  /* where the step just posted really stands */
          notice.setAttribute("data-notice-state", data.banner.state);
          notice.classList.toggle("error", data.banner.state === "problem");
        }
        section.setAttribute("data-outstanding", data.outstanding ? "true" : "false");
        if (live) { live.hidden = false; }
        if (data.cells.length !== cells) {
          say(section.getAttribute("data-new-steps-text"));
        } else if (note) {
          note.hidden = true;
        }
        window.setTimeout(tick, data.outstanding ? 1000 : 10000);
      }).catch(function () {  /* signed out, or the server is away: say so, try again later */
        if (live) { live.hidden = true; }
        say(section.getAttribute("data-stale-text"));
        window.setTimeout(tick, 5000);
      });
    }

    window.setTimeout(tick, 1000);
  }

  /* a refused form: the focus goes to the list of its problems, each linking to its field */
  var summary = document.querySelector("[data-error-summary]");
  if (summary) { summary.focus(); }

  document.querySelectorAll("form[data-live-preview]").forEach(livePreview);
  document.querySelectorAll("form[data-once]").forEach(sendOnce);
  document.querySelectorAll("section[data-status-url]").forEach(liveBoard);
}());
