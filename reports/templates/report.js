/* ovr report: leaderboard sorting, the sample browser and offline math.
   All data comes from the JSON blob and reaches the page through textContent / createTextNode
   only; KaTeX (when inlined) typesets math from text nodes with trust disabled. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("report-data").textContent);
  var PAGE_SIZE = 20;
  var MAX_TEX = 4000;
  var KATEX_OPTIONS = { throwOnError: false, trust: false, strict: "ignore", maxExpand: 500,
    maxSize: 20, output: "htmlAndMathml" };
  var VERDICTS = { correct: "correct", incorrect: "incorrect", mixed: "partly correct",
    unknown: "not graded" };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // ------------------------------------------------------------ leaderboard sorting

  function sortTable(table, button) {
    var th = button.closest("th");
    var col = Number(button.dataset.col);
    var isText = button.dataset.type === "text";
    var current = th.getAttribute("aria-sort");
    var first = isText ? "ascending" : "descending";
    var dir = current === first ? (first === "ascending" ? "descending" : "ascending") : first;
    table.querySelectorAll("thead th").forEach(function (h) { h.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", dir);
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.sort, y = b.cells[col].dataset.sort;
      if (x === "" || y === "") return (x === "") - (y === "");  // missing last, both ways
      var d = isText ? x.localeCompare(y) : Number(x) - Number(y);
      return dir === "ascending" ? d : -d;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  var table = document.getElementById("leaderboard-table");
  if (table) {
    table.querySelectorAll("thead button[data-col]").forEach(function (button) {
      button.addEventListener("click", function () { sortTable(table, button); });
    });
  }

  // ------------------------------------------------------------ math (KaTeX on text nodes)

  var DELIMITERS = [["$$", "$$", true], ["\\[", "\\]", true], ["\\(", "\\)", false],
    ["$", "$", false]];

  function findClose(text, close, from) {
    var at = text.indexOf(close, from);
    while (at !== -1 && close === "$" && text[at - 1] === "\\") at = text.indexOf(close, at + 1);
    return at;
  }

  /* Plain strings and {tex, display} pieces; unmatched delimiters stay text. */
  function splitMath(text) {
    var parts = [], plain = "", i = 0;
    while (i < text.length) {
      if (text[i] === "\\" && text[i + 1] === "$") { plain += "\\$"; i += 2; continue; }
      var found = null;
      for (var k = 0; k < DELIMITERS.length && !found; k++) {
        var d = DELIMITERS[k];
        if (text.startsWith(d[0], i)) {
          var end = findClose(text, d[1], i + d[0].length);
          var tex = end === -1 ? "" : text.slice(i + d[0].length, end);
          if (tex.trim() && tex.length <= MAX_TEX && (d[2] || tex.indexOf("\n\n") === -1)) {
            found = { tex: tex, display: d[2], next: end + d[1].length };
          }
        }
      }
      if (found) {
        if (plain) parts.push(plain);
        parts.push({ tex: found.tex, display: found.display });
        plain = "";
        i = found.next;
      } else {
        plain += text[i];
        i += 1;
      }
    }
    if (plain) parts.push(plain);
    return parts;
  }

  function typeset(tex, display) {
    var span = el("span", display ? "math display" : "math");
    try {
      window.katex.render(tex, span, Object.assign({ displayMode: display }, KATEX_OPTIONS));
    } catch (error) {
      span.textContent = tex;
    }
    return span;
  }

  function renderMath(root) {
    if (!window.katex) return;
    var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    var nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    nodes.forEach(function (node) {
      var parts = splitMath(node.nodeValue);
      if (parts.length === 1 && typeof parts[0] === "string") return;
      var fragment = document.createDocumentFragment();
      parts.forEach(function (part) {
        fragment.appendChild(typeof part === "string" ? document.createTextNode(part)
          : typeset(part.tex, part.display));
      });
      node.parentNode.replaceChild(fragment, node);
    });
  }

  /* Text with $...$ math typeset; answers (gold, extracted) are LaTeX without delimiters. */
  function mathText(className, text) {
    var node = el("span", className, text);
    renderMath(node);
    return node;
  }

  function answer(text) {
    if (text === null || text === undefined) return el("span", "missing-note", "none");
    if (!window.katex || String(text).length > MAX_TEX) return el("span", "prose", text);
    var node = typeset(String(text), false);
    node.title = String(text);
    return node;
  }

  // ------------------------------------------------------------ sample browser

  var samples = DATA.samples || [];
  var ids = ["f-run", "f-task", "f-subset", "f-verdict", "f-search", "sample-list", "match-count",
    "prev", "next", "page-label"];
  var ui = {};
  ids.forEach(function (id) { ui[id] = document.getElementById(id); });
  var page = 0;

  function haystack(s) {
    if (s._hay === undefined) {
      var parts = [s.id, s.task, s.question, s.gold || ""].concat(s.choices || []);
      s.responses.forEach(function (r) { parts.push(r.text, r.extracted || ""); });
      s._hay = parts.join("\n").toLowerCase();
    }
    return s._hay;
  }

  function filters() {
    return { run: ui["f-run"].value, task: ui["f-task"].value, subset: ui["f-subset"].value,
      verdict: ui["f-verdict"].value, search: ui["f-search"].value.trim().toLowerCase() };
  }

  function inScope(s, f) {
    return (f.run === "" || String(s.run) === f.run) && (f.task === "" || s.task === f.task);
  }

  function matches(s, f) {
    return inScope(s, f) && (f.subset === "" || s.subsets.indexOf(f.subset) !== -1)
      && (f.verdict === "" || s.verdict === f.verdict || (f.verdict === "disagree" && s.disagree)
        || (f.verdict === "mv-disagree" && s.mv_disagree))
      && (f.search === "" || haystack(s).indexOf(f.search) !== -1);
  }

  function refreshSubsets() {
    var f = filters(), keep = ui["f-subset"].value, options = {};
    samples.forEach(function (s) {
      if (inScope(s, f)) s.subsets.forEach(function (x) { options[x] = true; });
    });
    var select = ui["f-subset"];
    while (select.options.length > 1) select.remove(1);
    Object.keys(options).sort().forEach(function (x) { select.add(new Option(x, x)); });
    select.value = options[keep] ? keep : "";
  }

  function field(name, content) {
    var box = el("div", "field");
    box.appendChild(el("span", "name", name));
    box.appendChild(content);
    return box;
  }

  function responseView(r, index) {
    var details = el("details", "response");
    if (index === 0) details.open = true;
    var summary = el("summary");
    var verdict = r.correct === null ? "unknown" : r.correct ? "correct" : "incorrect";
    summary.appendChild(el("span", "verdict " + verdict, VERDICTS[verdict]));
    summary.appendChild(document.createTextNode(" · response " + (index + 1) + " · extracted: "));
    summary.appendChild(answer(r.extracted));
    var facts = [];
    if (r.finish) facts.push("finish: " + r.finish);
    if (r.tokens !== null) facts.push(r.tokens + " tokens");
    if (r.chars_left_out) facts.push(r.chars_left_out.toLocaleString() + " characters left out");
    if (facts.length) summary.appendChild(document.createTextNode(" · " + facts.join(" · ")));
    if (r.judge) {
      var judged = r.judge.correct === null ? "unknown" : r.judge.correct ? "correct" : "incorrect";
      summary.appendChild(document.createTextNode(" · judge: "));
      summary.appendChild(el("span", "verdict " + judged, VERDICTS[judged]));
      summary.appendChild(document.createTextNode(" (" + (r.judge.method || "") + "), extracted: "));
      summary.appendChild(answer(r.judge.extracted));
      if (r.judge.error) summary.appendChild(el("span", "missing-note", " judge failed: " + r.judge.error));
    }
    if (r.math_verify) {
      summary.appendChild(document.createTextNode(" · Math-Verify: "));
      summary.appendChild(el("span", "verdict " + r.math_verify,
        r.math_verify === "unknown" ? "no opinion" : VERDICTS[r.math_verify]));
    }
    details.appendChild(summary);
    details.appendChild(mathText("response-text", r.text));
    return details;
  }

  function card(s) {
    var article = el("article", "sample " + s.verdict);
    article.dataset.run = String(s.run);
    article.dataset.task = s.task;
    article.dataset.verdict = s.verdict;
    var header = el("header");
    header.appendChild(el("span", "verdict " + s.verdict, VERDICTS[s.verdict]));
    header.appendChild(el("span", "tag run-label", DATA.runs[s.run].label));
    header.appendChild(el("span", "tag", s.task));
    header.appendChild(el("code", "sample-id", s.id));
    s.subsets.forEach(function (x) { header.appendChild(el("span", "tag", x)); });
    article.appendChild(header);
    article.appendChild(field("question", mathText("prose question", s.question)));
    if (s.images.length || s.missing_images.length) {
      var pictures = el("div", "images");
      s.images.forEach(function (key) {
        var url = DATA.images[key];
        if (typeof url !== "string" || url.indexOf("data:image/") !== 0) return;
        var img = el("img");
        img.alt = "image of sample " + s.id;
        img.src = url;
        pictures.appendChild(img);
      });
      s.missing_images.forEach(function (path) {
        pictures.appendChild(el("div", "missing-note", "image not found or unreadable: " + path));
      });
      article.appendChild(field("image", pictures));
    }
    if (s.choices && s.letter_choices) {  // options that are just their letters: once
      article.appendChild(field("choices", el("span", "letter-choices",
        s.choices.join(", ") + " (the options are in the image)")));
    } else if (s.choices) {
      var list = el("ol", "choices");
      list.type = "A";
      s.choices.forEach(function (c) {
        var item = el("li");
        item.appendChild(mathText("prose", c));
        list.appendChild(item);
      });
      article.appendChild(field("choices", list));
    }
    article.appendChild(field("gold", answer(s.gold)));
    var responses = el("div", "responses");
    if (!s.responses.length) responses.appendChild(el("span", "missing-note", "no responses saved"));
    s.responses.forEach(function (r, i) { responses.appendChild(responseView(r, i)); });
    if (s.responses_left_out) {
      responses.appendChild(el("p", "hint", s.responses_left_out + " more response(s) not included"));
    }
    article.appendChild(field("responses", responses));
    return article;
  }

  function show() {
    var f = filters();
    var found = samples.filter(function (s) { return matches(s, f); });
    var pages = Math.max(1, Math.ceil(found.length / PAGE_SIZE));
    page = Math.min(Math.max(page, 0), pages - 1);
    ui["match-count"].textContent = found.length + " of " + samples.length + " samples match";
    var list = ui["sample-list"];
    while (list.firstChild) list.removeChild(list.firstChild);
    found.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE).forEach(function (s) {
      list.appendChild(card(s));
    });
    ui["page-label"].textContent = "page " + (page + 1) + " of " + pages;
    ui.prev.disabled = page === 0;
    ui.next.disabled = page >= pages - 1;
  }

  function restart() { page = 0; show(); }

  if (ui["sample-list"]) {
    ["f-run", "f-task"].forEach(function (id) {
      ui[id].addEventListener("change", function () { refreshSubsets(); restart(); });
    });
    ui["f-subset"].addEventListener("change", restart);
    ui["f-verdict"].addEventListener("change", restart);
    var timer = null;
    ui["f-search"].addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(restart, 150);
    });
    document.getElementById("filters").addEventListener("submit", function (e) { e.preventDefault(); });
    ui.prev.addEventListener("click", function () { page -= 1; show(); });
    ui.next.addEventListener("click", function () { page += 1; show(); });
    refreshSubsets();
    show();
  }
})();
