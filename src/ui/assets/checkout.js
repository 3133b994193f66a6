// The checkout page's card payment: Stripe.js collects the card in place (no hop to another
// site), our API charges it, and the page waits for Stripe's webhook to grant the purchase
// before returning to the app.
(function () {
  const form = document.getElementById("pay");
  if (!form || typeof Stripe !== "function") return;
  const data = form.dataset;
  const stripe = Stripe(data.publishableKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  const button = document.getElementById("pay-button");
  const status = document.getElementById("pay-status");
  const say = (text, isError) => {
    status.textContent = text;
    status.className = isError ? "error" : "muted";
  };
  const api = async (path, body) => {
    const res = await fetch("/api/v1/payments/purchases/" + path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    let json = {};
    try { json = JSON.parse(text); } catch (_) { json = { error: text }; }
    if (!res.ok) throw new Error(json.error || text || "The payment could not be made.");
    return json;
  };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      const chosen = form.querySelector("input[name=price_id]:checked");
      const quantityInput = form.querySelector("input[name=quantity]");
      const purchase = { full_code: data.fullCode, price_id: chosen ? chosen.value : "" };
      if (quantityInput) purchase.quantity = parseInt(quantityInput.value, 10);
      say("Checking the card…");
      const session = await api("purchase-session", purchase);
      const setup = await stripe.confirmCardSetup(session.client_secret, {
        payment_method: { card },
      });
      if (setup.error) throw new Error(setup.error.message || "The card was declined.");
      say("Paying…");
      await api("purchase-session/charge", { ...purchase, client_secret: session.client_secret });
      say("Payment taken; waiting for Stripe's confirmation…");
      for (let i = 0; i < 60; i++) {
        const res = await fetch(location.pathname + "/status");
        const body = await res.json();
        if (body.status === "succeeded") {
          if (data.returnUrl) location.assign(data.returnUrl);
          else say("Purchase complete.");
          return;
        }
        if (body.status === "failed") throw new Error("The payment failed.");
        await sleep(500);
      }
      say("The payment is taking longer than usual; you will get the purchase once Stripe confirms it.");
    } catch (e) {
      say(e.message, true);
      button.disabled = false;
    }
  });
})();
