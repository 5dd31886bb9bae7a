/* Rail Studio IP map: hover details and drag-to-exclude on the rails' SVG bars.
 *
 * A bar carries data-first and data-size (decimal integers) for its subnet. Pixel x becomes an
 * address with BigInt arithmetic, so IPv6 rails work too. On release, the dragged first/last
 * addresses are posted through htmx to the bar's data-drag-url; the server snaps them to CIDR
 * boundaries, validates them like the API does, and answers with the rail's new card (plus the
 * utilisation table out of band). Listeners sit on the document, so swapped-in bars just work.
 */
(function () {
  "use strict";

  var STEPS = 1073741824; // 2^30 positions across a bar: finer than any screen
  var MIN_DRAG_PX = 4; // shorter movements are clicks, not drags
  var drag = null;

  function barAt(element) {
    return element && element.closest ? element.closest("svg.ipmap") : null;
  }

  function fractionAt(bar, clientX) {
    var box = bar.getBoundingClientRect();
    return Math.min(Math.max((clientX - box.left) / box.width, 0), 1);
  }

  function addressAt(bar, fraction) {
    var size = BigInt(bar.dataset.size);
    var offset = (BigInt(Math.floor(fraction * STEPS)) * size) / BigInt(STEPS);
    if (offset >= size) offset = size - 1n;
    return BigInt(bar.dataset.first) + offset;
  }

  function ipText(value, version) {
    var parts = [];
    var i;
    if (version === "6") {
      for (i = 0; i < 8; i++) {
        parts.unshift((value & 0xffffn).toString(16));
        value >>= 16n;
      }
      return parts.join(":");
    }
    for (i = 0; i < 4; i++) {
      parts.unshift(Number(value & 255n));
      value >>= 8n;
    }
    return parts.join(".");
  }

  function readoutOf(bar) {
    var wrap = bar.closest(".ipmap-wrap");
    return wrap ? wrap.querySelector(".ipmap-readout") : null;
  }

  function say(bar, text) {
    var readout = readoutOf(bar);
    if (readout) readout.textContent = text;
  }

  function showSelection(bar, from, to) {
    var rect = bar.querySelector(".ipmap-selection");
    var width = bar.viewBox.baseVal.width;
    rect.setAttribute("x", String(Math.min(from, to) * width));
    rect.setAttribute("width", String(Math.abs(to - from) * width));
  }

  function dragSpan(currentX) {
    var f0 = fractionAt(drag.bar, drag.startX);
    var f1 = fractionAt(drag.bar, currentX);
    var low = addressAt(drag.bar, Math.min(f0, f1));
    var high = addressAt(drag.bar, Math.max(f0, f1));
    return { f0: f0, f1: f1, low: low, high: high };
  }

  function hover(event) {
    var bar = barAt(event.target);
    if (!bar) return;
    var version = bar.dataset.version;
    var address = ipText(addressAt(bar, fractionAt(bar, event.clientX)), version);
    var segment = event.target.closest("rect.seg");
    var title = segment && segment.querySelector("title");
    say(bar, address + (title ? "  —  " + title.textContent : ""));
  }

  document.addEventListener("pointerdown", function (event) {
    var bar = barAt(event.target);
    if (!bar || !bar.dataset.dragUrl || event.button !== 0) return;
    event.preventDefault();
    drag = { bar: bar, startX: event.clientX };
    bar.classList.add("dragging");
  });

  document.addEventListener("pointermove", function (event) {
    if (!drag) {
      hover(event);
      return;
    }
    var span = dragSpan(event.clientX);
    var version = drag.bar.dataset.version;
    showSelection(drag.bar, span.f0, span.f1);
    say(
      drag.bar,
      "Exclude " + ipText(span.low, version) + " – " + ipText(span.high, version) +
        " (release to add; it widens to CIDR boundaries)"
    );
  });

  document.addEventListener("pointerup", function (event) {
    if (!drag) return;
    var bar = drag.bar;
    var moved = Math.abs(event.clientX - drag.startX);
    var span = dragSpan(event.clientX);
    drag = null;
    bar.classList.remove("dragging");
    if (moved < MIN_DRAG_PX) {
      showSelection(bar, 0, 0);
      return;
    }
    bar.classList.add("busy");
    say(bar, "Adding the exclusion…");
    htmx.ajax("POST", bar.dataset.dragUrl, {
      source: bar,
      target: bar.dataset.target,
      swap: "outerHTML",
      values: { first: span.low.toString(), last: span.high.toString() },
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && drag) {
      showSelection(drag.bar, 0, 0);
      drag.bar.classList.remove("dragging");
      drag = null;
    }
  });
})();
