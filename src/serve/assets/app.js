// fwaudit dashboard: small conveniences only; every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Filter forms marked data-autosubmit apply a select as soon as it changes.
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
  // A triage form asks for a reason unless it reopens the finding.
  document.querySelectorAll("form.triage").forEach(function (f) {
    var action = f.querySelector("select[name=action]");
    var reason = f.querySelector("input[name=reason]");
    var sync = function () { reason.required = action.value !== "reopen"; };
    action.addEventListener("change", sync);
    sync();
  });
});
