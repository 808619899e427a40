// Progressive enhancement only: every form still works without this file.
document.querySelectorAll("form.js-autosubmit select").forEach((select) => {
  select.form.querySelectorAll(".js-hide-when-auto").forEach((el) => el.classList.add("d-none"));
  select.addEventListener("change", () => select.form.submit());
});
// A header checkbox ticks or clears every row checkbox of its name (the case list's selection).
document.querySelectorAll("input.js-select-all").forEach((all) => {
  const rows = () => document.querySelectorAll(`input[type=checkbox][name="${all.dataset.select}"]`);
  all.addEventListener("change", () => rows().forEach((row) => { row.checked = all.checked; }));
});
