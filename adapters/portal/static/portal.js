// Small progressive enhancement for the tollbook portal. Every page works without it; this only
// fills in values the server would otherwise default, and asks before irreversible actions.
(function () {
  "use strict";

  // Forms marked data-confirm ask first (issue, void, remove line, cancel payment).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // Bulk actions on the invoice list: "select all" ticks every box of the page; issue and
  // send ask first (the button pressed says which question).
  var selectAll = document.querySelector("[data-select-all]");
  if (selectAll) {
    var boxes = document.querySelectorAll('input[type="checkbox"][name="invoice"]');
    selectAll.hidden = false;
    selectAll.addEventListener("change", function () {
      for (var i = 0; i < boxes.length; i++) { boxes[i].checked = selectAll.checked; }
    });
  }
  var bulkForm = document.getElementById("bulk");
  if (bulkForm) {
    bulkForm.addEventListener("submit", function (event) {
      var question = event.submitter && event.submitter.getAttribute("data-confirm-bulk");
      if (question && !window.confirm(question)) { event.preventDefault(); }
    });
  }

  // Package picker: choosing a package fills quantity, unit price and tax rate (still editable).
  var addLine = document.getElementById("add-line");
  if (addLine) {
    var packageInput = document.getElementById("add-package");
    var setup = document.getElementById("add-setup");
    var fill = function () {
      var name = packageInput.value;
      var options = document.querySelectorAll("#package-list option");
      for (var i = 0; i < options.length; i++) {
        var option = options[i];
        if (option.value === name) {
          document.getElementById("add-quantity").value = option.dataset.quantity;
          document.getElementById("add-unit_price").value = setup && setup.checked
            ? option.dataset.setupPrice : option.dataset.unitPrice;
          document.getElementById("add-tax_rate").value = option.dataset.taxRate;
          return;
        }
      }
    };
    packageInput.addEventListener("change", fill);
    if (setup) { setup.addEventListener("change", fill); }
  }

  // Allocate one payment to this invoice: the amount follows the chosen payment, defaulting to
  // the smaller of its unallocated money and what is due.
  var allocateOne = document.getElementById("allocate-one");
  if (allocateOne) {
    var select = document.getElementById("payment");
    var amount = document.getElementById("amount");
    select.addEventListener("change", function () {
      var option = select.options[select.selectedIndex];
      var places = Number(allocateOne.dataset.places || 2);
      var unallocated = toMinor(option.dataset.unallocated, places);
      var due = toMinor(allocateOne.dataset.due, places);
      amount.value = fromMinor(Math.min(unallocated, due), places);
    });
  }

  // Allocate across invoices: "Fill oldest first" spreads the unallocated money over the
  // invoices in due-date order.
  var allocateMany = document.getElementById("allocate-many");
  if (allocateMany) {
    var button = allocateMany.querySelector("[data-fill-oldest]");
    button.hidden = false;
    button.addEventListener("click", function () {
      var places = Number(allocateMany.dataset.places || 2);
      var left = toMinor(allocateMany.dataset.unallocated, places);
      var inputs = allocateMany.querySelectorAll("input[data-due]");
      for (var i = 0; i < inputs.length; i++) {
        var take = Math.min(left, toMinor(inputs[i].dataset.due, places));
        inputs[i].value = take > 0 ? fromMinor(take, places) : "";
        left -= take;
      }
    });
  }

  // Amounts are handled in whole minor units (cents for 2 places) so no float rounding creeps in.
  function toMinor(text, places) {
    var parts = String(text || "0").split(".");
    var fraction = (parts[1] || "").concat("000000").slice(0, places);
    var scale = Math.pow(10, places);
    return parseInt(parts[0] || "0", 10) * scale + (places ? parseInt(fraction, 10) : 0);
  }
  function fromMinor(minor, places) {
    if (!places) { return String(minor); }
    var scale = Math.pow(10, places);
    var rest = String(minor % scale);
    while (rest.length < places) { rest = "0" + rest; }
    return Math.floor(minor / scale) + "." + rest;
  }
})();
