// The dashboard's copy buttons: a button with `data-copy` puts that value on the clipboard
// (the Clipboard API, else a selected hidden textarea and `copy`), marks itself `data-copied`
// and says so in the panel's live region. Without the script the values stay selectable.
(function () {
  const fallback = (value) => {
    const area = document.createElement("textarea");
    area.value = value;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (_) {
      ok = false;
    }
    area.remove();
    return ok;
  };
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-copy]");
    if (!button) return;
    const value = button.dataset.copy;
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(value);
        ok = true;
      }
    } catch (_) {
      ok = false;
    }
    if (!ok) ok = fallback(value);
    button.dataset.copied = ok ? "yes" : "no";
    button.textContent = ok ? "Copied" : "Select and copy";
    const what = (button.getAttribute("aria-label") || "").replace(/^Copy /, "");
    const status = button.closest("section")?.querySelector("[aria-live]");
    if (status) status.textContent = ok ? `Copied ${what}.` : `Could not copy ${what}; select it and copy.`;
    setTimeout(() => {
      button.textContent = "Copy";
    }, 2500);
  });
})();
