// The billing page's "change card": Stripe.js collects the new card in place, a SetupIntent
// saves it (the form's `data-intent` URL answers its client secret), and the form then posts the
// SetupIntent's id, which makes the card the default for the customer's invoices.
(function () {
  const form = document.getElementById("card-form");
  if (!form || typeof Stripe !== "function") return;
  const stripe = Stripe(form.dataset.publishableKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  const button = form.querySelector("button[type=submit]");
  const status = document.getElementById("card-status");
  const say = (text, isError) => {
    status.textContent = text;
    status.className = isError ? "error" : "muted";
  };
  form.addEventListener("submit", async (event) => {
    if (form.elements.setup_intent_id.value) return;
    event.preventDefault();
    button.disabled = true;
    try {
      say("Checking the card…");
      const res = await fetch(form.dataset.intent, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ csrf: form.elements.csrf.value }),
      });
      const body = await res.json();
      if (!res.ok) throw new Error(body.message || "The card could not be saved.");
      const setup = await stripe.confirmCardSetup(body.client_secret, { payment_method: { card } });
      if (setup.error) throw new Error(setup.error.message || "The card was declined.");
      form.elements.setup_intent_id.value = setup.setupIntent.id;
      form.submit();
    } catch (e) {
      say(e.message, true);
      button.disabled = false;
    }
  });
})();
