// tally console: progressive enhancement only; every page works without it.
document.addEventListener("DOMContentLoaded", () => {
  // "Select all" checkboxes: <input type=checkbox data-select-all="name">.
  for (const all of document.querySelectorAll("input[data-select-all]")) {
    all.addEventListener("change", () => {
      for (const box of document.querySelectorAll(`input[name="${all.dataset.selectAll}"]`)) box.checked = all.checked;
    });
  }
});
