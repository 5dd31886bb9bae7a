/* Rail Studio IP map: hover details, drag-to-exclude and its keyboard twin on the rails' bars.
 *
 * A bar carries data-first and data-size (decimal integers) for its subnet. Pixel x becomes an
 * address with BigInt arithmetic, so IPv6 rails work too. While dragging, the bar shows the block
 * the server will exclude: the drag snapped to CIDR boundaries exactly as planner.ipam.snap_span
 * does (both ends aligned to the largest power-of-two block that fits in the drag), with its range
 * and size, before anything is sent. With the keyboard, a focused bar holds a CIDR block (at first
 * the lowest free one): arrows move it, Shift+arrows narrow or widen it, Enter excludes it, Escape
 * cancels. Either way the first/last addresses go through htmx to the bar's data-drag-url; the
 * server snaps and validates them like the API and answers with the rail's new card (plus the
 * utilisation table out of band). Listeners sit on the document, so swapped-in bars just work.
 */
(function () {
  "use strict";

  var STEPS = 1073741824; // 2^30 positions across a bar: finer than any screen
  var MIN_DRAG_PX = 4; // shorter movements are clicks, not drags
  var LIST_CIDRS = 4; // name the CIDRs of a block when it is at most this many
  var drag = null;
  var keyboard = new WeakMap(); // bar -> {first, size} of its keyboard block
  var refocus = null; // the id of the rail card whose bar gets focus back after Enter

  // --- addresses --------------------------------------------------------------------------------

  function barAt(element) {
    return element && element.closest ? element.closest("svg.ipmap") : null;
  }

  function subnetOf(bar) {
    var first = BigInt(bar.dataset.first);
    var size = BigInt(bar.dataset.size);
    return { first: first, last: first + size - 1n, size: size };
  }

  function fractionAt(bar, clientX) {
    var box = bar.getBoundingClientRect();
    return Math.min(Math.max((clientX - box.left) / box.width, 0), 1);
  }

  function addressAt(bar, fraction) {
    var subnet = subnetOf(bar);
    var offset = (BigInt(Math.floor(fraction * STEPS)) * subnet.size) / BigInt(STEPS);
    if (offset >= subnet.size) offset = subnet.size - 1n;
    return subnet.first + offset;
  }

  function bitLength(value) {
    return value.toString(2).length;
  }

  /* planner.ipam.snap_span, clipped to the subnet as planner.forms.dragged_span does. */
  function snap(bar, low, high) {
    var subnet = subnetOf(bar);
    if (low < subnet.first) low = subnet.first;
    if (high > subnet.last) high = subnet.last;
    var block = 1n << BigInt(bitLength(high - low + 1n) - 1);
    var start = (low / block) * block;
    var end = (high / block + 1n) * block - 1n;
    return {
      first: start < subnet.first ? subnet.first : start,
      last: end > subnet.last ? subnet.last : end,
    };
  }

  function maxBits(bar) {
    return bar.dataset.version === "6" ? 128 : 32;
  }

  /* The CIDRs that make up [first, last]: the largest aligned block at each step. */
  function cidrsOf(bar, first, last) {
    var cidrs = [];
    var bits = maxBits(bar);
    while (first <= last && cidrs.length <= LIST_CIDRS) {
      var size = 1n;
      while (first % (size * 2n) === 0n && first + size * 2n - 1n <= last) size *= 2n;
      cidrs.push(ipText(first, bar.dataset.version) + "/" + (bits - bitLength(size) + 1));
      first += size;
    }
    return cidrs;
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

  function count(value) {
    return value.toLocaleString("en-US") + (value === 1n ? " address" : " addresses");
  }

  /* "10.60.16.0 – 10.60.63.255 · 12,288 addresses (10.60.16.0/20 + 10.60.32.0/19)" */
  function blockText(bar, first, last) {
    var version = bar.dataset.version;
    var cidrs = cidrsOf(bar, first, last);
    var text = ipText(first, version) + " – " + ipText(last, version) + " · " + count(last - first + 1n);
    if (cidrs.length === 1) return cidrs[0] + " · " + text;
    if (cidrs.length <= LIST_CIDRS) text += " (" + cidrs.join(" + ") + ")";
    return text;
  }

  /* The marked segments (exclusions, host IPs, outside the pod range) a block overlaps. */
  function overlaps(bar, first, last) {
    var found = [];
    bar.querySelectorAll("rect.seg[data-first]").forEach(function (segment) {
      if (BigInt(segment.dataset.first) <= last && BigInt(segment.dataset.last) >= first) {
        if (segment.classList.contains("seg-excluded") || segment.classList.contains("seg-host") ||
            segment.classList.contains("seg-dense")) {
          found.push(segment.dataset.label);
        }
      }
    });
    return found;
  }

  function warning(bar, first, last) {
    var hits = overlaps(bar, first, last);
    if (!hits.length) return "";
    return " ⚠ overlaps " + hits.slice(0, 2).join(", ") + (hits.length > 2 ? " and more" : "") +
      ": it would be refused.";
  }

  // --- drawing -----------------------------------------------------------------------------------

  function readoutOf(bar) {
    var wrap = bar.closest(".ipmap-wrap");
    return wrap ? wrap.querySelector(".ipmap-readout") : null;
  }

  function say(bar, text) {
    var readout = readoutOf(bar);
    if (readout) readout.textContent = text;
  }

  function draw(rect, bar, first, last) {
    var subnet = subnetOf(bar);
    var width = bar.viewBox.baseVal.width;
    var scale = width / Number(subnet.size);
    var x = Number(first - subnet.first) * scale;
    rect.setAttribute("x", String(x));
    rect.setAttribute("width", String(Math.max(Number(last - first + 1n) * scale, 1.5)));
  }

  function clear(bar) {
    ["ipmap-selection", "ipmap-drag"].forEach(function (name) {
      var rect = bar.querySelector("." + name);
      if (rect) rect.setAttribute("width", "0");
    });
  }

  function showBlock(bar, first, last) {
    draw(bar.querySelector(".ipmap-selection"), bar, first, last);
  }

  function showDrag(bar, low, high) {
    draw(bar.querySelector(".ipmap-drag"), bar, low, high);
  }

  function exclude(bar, first, last) {
    bar.classList.add("busy");
    say(bar, "Excluding " + blockText(bar, first, last) + "…");
    htmx.ajax("POST", bar.dataset.dragUrl, {
      source: bar,
      target: bar.dataset.target,
      swap: "outerHTML",
      values: { first: first.toString(), last: last.toString() },
    });
  }

  // --- the mouse -----------------------------------------------------------------------------------

  function dragSpan(currentX) {
    var f0 = fractionAt(drag.bar, drag.startX);
    var f1 = fractionAt(drag.bar, currentX);
    var low = addressAt(drag.bar, Math.min(f0, f1));
    var high = addressAt(drag.bar, Math.max(f0, f1));
    var block = snap(drag.bar, low, high);
    return { low: low, high: high, first: block.first, last: block.last };
  }

  function hover(event) {
    var bar = barAt(event.target);
    if (!bar || keyboard.has(bar)) return;
    var address = ipText(addressAt(bar, fractionAt(bar, event.clientX)), bar.dataset.version);
    var segment = event.target.closest("rect.seg");
    var title = segment && segment.querySelector("title");
    say(bar, address + (title ? "  —  " + title.textContent : ""));
  }

  document.addEventListener("pointerdown", function (event) {
    var bar = barAt(event.target);
    if (!bar || !bar.dataset.dragUrl || event.button !== 0) return;
    event.preventDefault();
    keyboard.delete(bar);
    drag = { bar: bar, startX: event.clientX };
    bar.classList.add("dragging");
  });

  document.addEventListener("pointermove", function (event) {
    if (!drag) {
      hover(event);
      return;
    }
    var span = dragSpan(event.clientX);
    if (Math.abs(event.clientX - drag.startX) < MIN_DRAG_PX) return;
    showDrag(drag.bar, span.low, span.high);
    showBlock(drag.bar, span.first, span.last);
    say(
      drag.bar,
      "Release to exclude " + blockText(drag.bar, span.first, span.last) +
        " — you dragged " + count(span.high - span.low + 1n) + ", widened to CIDR boundaries." +
        warning(drag.bar, span.first, span.last) + " Esc cancels."
    );
  });

  document.addEventListener("pointerup", function (event) {
    if (!drag) return;
    var bar = drag.bar;
    var moved = Math.abs(event.clientX - drag.startX);
    var span = dragSpan(event.clientX);
    drag = null;
    bar.classList.remove("dragging");
    clear(bar);
    if (moved < MIN_DRAG_PX) return;
    exclude(bar, span.first, span.last);
  });

  // --- the keyboard ----------------------------------------------------------------------------------

  function keyboardBlock(bar) {
    var block = keyboard.get(bar);
    if (!block) {
      block = { first: BigInt(bar.dataset.blockFirst), size: BigInt(bar.dataset.blockSize) };
      keyboard.set(bar, block);
    }
    return block;
  }

  function showKeyboardBlock(bar) {
    var block = keyboardBlock(bar);
    var last = block.first + block.size - 1n;
    bar.querySelector(".ipmap-drag").setAttribute("width", "0");
    showBlock(bar, block.first, last);
    say(
      bar,
      "Selected " + blockText(bar, block.first, last) + "." + warning(bar, block.first, last) +
        " Enter excludes it; Esc cancels."
    );
  }

  /* Move by whole blocks, or double / halve the block keeping it CIDR-aligned, inside the subnet. */
  function change(bar, key, shift) {
    var subnet = subnetOf(bar);
    var block = keyboardBlock(bar);
    if (shift && key === "ArrowRight") {
      if (block.size * 2n <= subnet.size) {
        block.size *= 2n;
        block.first = subnet.first + ((block.first - subnet.first) / block.size) * block.size;
      }
    } else if (shift && key === "ArrowLeft") {
      if (block.size > 1n) block.size /= 2n;
    } else if (key === "ArrowRight") {
      if (block.first + block.size * 2n - 1n <= subnet.last) block.first += block.size;
    } else if (key === "ArrowLeft") {
      if (block.first - block.size >= subnet.first) block.first -= block.size;
    } else if (key === "Home") {
      block.first = subnet.first;
    } else if (key === "End") {
      block.first = subnet.first + (subnet.size / block.size - 1n) * block.size;
    }
  }

  function cancel(bar) {
    keyboard.delete(bar);
    clear(bar);
    say(bar, "Cancelled: nothing excluded.");
  }

  document.addEventListener("focusin", function (event) {
    var bar = barAt(event.target);
    if (bar && bar.dataset.dragUrl && event.target === bar && !drag) showKeyboardBlock(bar);
  });

  document.addEventListener("focusout", function (event) {
    var bar = barAt(event.target);
    if (bar && event.target === bar && keyboard.has(bar) && !bar.classList.contains("busy")) {
      keyboard.delete(bar);
      clear(bar);
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && drag) {
      clear(drag.bar);
      say(drag.bar, "Cancelled: nothing excluded.");
      drag.bar.classList.remove("dragging");
      drag = null;
      return;
    }
    var bar = event.target;
    if (!bar || !bar.matches || !bar.matches("svg.ipmap[data-drag-url]")) return;
    if (["ArrowLeft", "ArrowRight", "Home", "End"].indexOf(event.key) >= 0) {
      event.preventDefault();
      change(bar, event.key, event.shiftKey);
      showKeyboardBlock(bar);
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      var block = keyboardBlock(bar);
      var card = bar.closest(".rail-card");
      refocus = card ? card.id : null;
      exclude(bar, block.first, block.first + block.size - 1n);
    } else if (event.key === "Escape") {
      event.preventDefault();
      cancel(bar);
    }
  });

  /* After Enter, the rail's new card replaces the old one: focus goes back to its bar (with a
   * new block at the next free space), so keyboard users go on where they were. */
  document.addEventListener("htmx:afterSettle", function () {
    if (!refocus) return;
    var bar = document.querySelector("#" + refocus + " svg.ipmap[data-drag-url]");
    refocus = null;
    if (bar) bar.focus();
  });
})();
