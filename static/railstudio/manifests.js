// Copy buttons on the Manifests tab: [data-copy] names the element whose text is copied.
// Delegated from the document, so buttons that htmx swaps in work too.
(function () {
  "use strict";

  function fallbackCopy(text) {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    if (!ok) throw new Error("copy refused");
  }

  async function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
    } else {
      fallbackCopy(text);
    }
  }

  function flash(button, label, className) {
    const original = button.dataset.label || button.textContent;
    button.dataset.label = original;
    button.textContent = label;
    button.classList.add(className);
    setTimeout(function () {
      button.textContent = original;
      button.classList.remove(className);
    }, 1500);
  }

  document.addEventListener("click", async function (event) {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    const pre = source.querySelector("pre") || source;
    try {
      await copy(pre.textContent);
      flash(button, "Copied", "copied");
    } catch (error) {
      flash(button, "Copy failed", "failed");
    }
  });
})();
