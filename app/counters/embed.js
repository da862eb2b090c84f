/* Undersigned live counter. On any page:
 *   <div data-letter="SLUG"></div>
 *   <script src="https://SITE/embed.js" async></script>
 * Optional: data-lang="de" (number format), data-label-one / data-label-other (words).
 * Reads only SITE/letters/SLUG/count.json, without cookies or referrer, every few seconds
 * while the page is visible. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch) return;
  var origin = new URL(script.src, location.href).origin;
  var refreshMs = __REFRESH_SECONDS__ * 1000;
  var slugShape = /^[a-z0-9][a-z0-9-]{0,78}[a-z0-9]$/;

  function part(parent, tag, className) {
    var node = parent.querySelector(tag + "." + className);
    if (!node) {
      node = document.createElement(tag);
      node.className = className;
      parent.appendChild(node);
    }
    return node;
  }

  function draw(el, data) {
    var lang = el.getAttribute("data-lang") || document.documentElement.lang || undefined;
    var number;
    try {
      number = new Intl.NumberFormat(lang).format(data.signatures);
    } catch (e) {
      number = String(data.signatures);
    }
    var words = data.signatures === 1
      ? el.getAttribute("data-label-one") || "signature"
      : el.getAttribute("data-label-other") || "signatures";
    var count = part(el, "span", "undersigned-count");
    count.setAttribute("aria-live", "polite");
    part(count, "strong", "undersigned-number").textContent = number;
    part(count, "span", "undersigned-words").textContent = " " + words;
    if (data.goal) {
      var bar = part(el, "progress", "undersigned-progress");
      bar.max = data.goal;
      bar.value = Math.min(data.signatures, data.goal);
      bar.style.display = "block";
    }
    var link = part(el, "a", "undersigned-sign");
    link.href = origin + "/letters/" + data.slug;
    link.target = "_top";
    link.textContent = el.getAttribute("data-sign") || "Sign";
    el.setAttribute("data-signatures", String(data.signatures));
  }

  function load(el) {
    var slug = el.getAttribute("data-letter");
    if (!slug || !slugShape.test(slug)) return;
    fetch(origin + "/letters/" + slug + "/count.json", {
      mode: "cors",
      credentials: "omit",
      referrerPolicy: "no-referrer"
    })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data && typeof data.signatures === "number") draw(el, data); })
      .catch(function () { /* keep the last number shown */ });
  }

  function refresh() {
    if (document.hidden) return;
    var all = document.querySelectorAll("[data-letter]");
    for (var i = 0; i < all.length; i++) load(all[i]);
  }

  refresh();
  setInterval(refresh, refreshMs);
  document.addEventListener("visibilitychange", refresh);
})();
