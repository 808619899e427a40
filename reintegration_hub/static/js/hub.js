// Progressive enhancement only: every form still works without this file.
document.querySelectorAll("form.js-autosubmit select").forEach((select) => {
  select.form.querySelectorAll(".js-hide-when-auto").forEach((el) => el.classList.add("d-none"));
  select.addEventListener("change", () => select.form.submit());
});
