// passkeys.js: the hosted pages' passkey buttons (WebAuthn needs a script; the rest of the pages
// needs none). A form marked `data-passkey="sign-in"` or `"register"` is shown only where the
// browser has WebAuthn. On submit, the script asks the form's `data-options` URL for the
// ceremony's options (the form's token goes along), lets the browser's authenticator answer,
// puts the answer and the ceremony's code into the form's hidden fields, and submits it.
(function () {
  const toBytes = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const toText = (buffer) =>
    buffer ? btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "") : null;
  // The server's options name a placeholder relying party; the passkey belongs to this host.
  const host = location.hostname;

  async function signIn(options) {
    options.challenge = toBytes(options.challenge);
    options.rpId = host;
    for (const c of options.allowCredentials || []) c.id = toBytes(c.id);
    const credential = await navigator.credentials.get({ publicKey: options });
    const r = credential.response;
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: {
        clientDataJSON: toText(r.clientDataJSON),
        authenticatorData: toText(r.authenticatorData),
        signature: toText(r.signature),
        userHandle: toText(r.userHandle),
      },
    };
  }

  async function register(options) {
    options.challenge = toBytes(options.challenge);
    options.rp.id = host;
    options.user.id = toBytes(options.user.id);
    for (const c of options.excludeCredentials || []) c.id = toBytes(c.id);
    const credential = await navigator.credentials.create({ publicKey: options });
    const r = credential.response;
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: {
        clientDataJSON: toText(r.clientDataJSON),
        attestationObject: toText(r.attestationObject),
        authenticatorData: r.getAuthenticatorData ? toText(r.getAuthenticatorData()) : undefined,
        publicKey: r.getPublicKey ? toText(r.getPublicKey()) : undefined,
        publicKeyAlgorithm: r.getPublicKeyAlgorithm ? r.getPublicKeyAlgorithm() : undefined,
        transports: r.getTransports ? r.getTransports() : [],
      },
    };
  }

  function showError(form, message) {
    let p = form.querySelector("[role=alert]");
    if (!p) {
      p = document.createElement("p");
      p.className = "error";
      p.setAttribute("role", "alert");
      form.prepend(p);
    }
    p.textContent = message;
  }

  for (const form of document.querySelectorAll("form[data-passkey]")) {
    if (!window.PublicKeyCredential) continue;
    form.hidden = false;
    form.addEventListener("submit", async (event) => {
      if (form.elements.response.value) return;
      event.preventDefault();
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        const token = form.elements.form_token || form.elements.csrf;
        const answer = await fetch(form.dataset.options, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ [token.name]: token.value }),
        });
        const body = await answer.json();
        if (!answer.ok) throw new Error(body.message || "The passkey could not be used.");
        const run = form.dataset.passkey === "register" ? register : signIn;
        form.elements.response.value = JSON.stringify(await run(body.options_json));
        form.elements.code.value = body.code;
        form.submit();
      } catch (e) {
        // Cancelled at the browser's prompt, or refused: say so and let the user try again.
        console.error(e);
        showError(form, e.name === "NotAllowedError" ? "The passkey prompt was closed. Try again." : e.message);
        button.disabled = false;
      }
    });
  }
})();
