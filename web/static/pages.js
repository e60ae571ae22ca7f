// Tender's hosted pages: small enhancements only; every form works without
// this script, except Stripe's card form, which is Stripe.js.
(function () {
  "use strict";

  // Move focus to the error summary, so screen readers announce it.
  var summary = document.getElementById("form-error");
  if (summary) {
    summary.focus();
  }

  // A form marked data-once is sent once: its button shows it is busy.
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (form.dataset.sent) {
        ev.preventDefault();
        return;
      }
      form.dataset.sent = "1";
      var button = form.querySelector("button[type=submit]");
      if (button) {
        button.setAttribute("aria-disabled", "true");
        if (button.dataset.busy) {
          button.textContent = button.dataset.busy;
        }
      }
    });
  });

  // Stripe: the card form is Stripe's Payment Element, confirmed by
  // Stripe.js with the PaymentIntent's client secret; Stripe then sends the
  // shopper back to this page.
  var sf = document.getElementById("stripe-form");
  if (!sf) {
    return;
  }
  var errorBox = document.getElementById("stripe-error");
  var submit = document.getElementById("stripe-submit");
  function showError(msg) {
    errorBox.textContent = msg;
    submit.disabled = false;
    submit.textContent = submit.dataset.label;
  }
  submit.dataset.label = submit.textContent;
  if (typeof window.Stripe !== "function") {
    showError("The secure card form could not be loaded. Check your connection and reload the page.");
    submit.disabled = true;
    return;
  }
  var stripe = window.Stripe(sf.dataset.publishableKey);
  var elements = stripe.elements({ clientSecret: sf.dataset.clientSecret });
  var holder = document.getElementById("stripe-element");
  holder.textContent = "";
  elements.create("payment").mount(holder);
  sf.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (submit.disabled) {
      return;
    }
    submit.disabled = true;
    submit.textContent = submit.dataset.busy;
    errorBox.textContent = "";
    stripe.confirmPayment({
      elements: elements,
      confirmParams: { return_url: sf.dataset.returnUrl }
    }).then(function (result) {
      if (result.error) {
        showError(result.error.message || "The payment failed. Try again, or use another card.");
      }
    });
  });
})();
