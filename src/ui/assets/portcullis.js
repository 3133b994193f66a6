// portcullis.js: sign-in for any web page, with no build step. Include it with the project's id
// and publishable client key:
//
//   <script src="https://auth.example.com/js/portcullis.js" data-project-id="…"
//           data-publishable-client-key="…"></script>
//   <span data-portcullis="user-button"></span>
//
// "Sign in" opens the project's hosted sign-in page, which hands the session back to this page
// with a one-time code (PKCE; no token in the URL); the script exchanges it and keeps the tokens
// in localStorage. `window.Portcullis` offers getUser(), signIn() and signOut(). The page must be
// on one of the project's trusted domains.
(function () {
  const script = document.currentScript;
  const base = new URL(script.src).origin;
  const projectId = script.dataset.projectId;
  const clientKey = script.dataset.publishableClientKey;
  const storeKey = `portcullis:${projectId}`;
  const pendingKey = `${storeKey}:pending`;

  const b64url = (bytes) =>
    btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));
  const tokens = () => JSON.parse(localStorage.getItem(storeKey) || "null");
  const headers = (extra) => ({
    "x-stack-project-id": projectId,
    "x-stack-access-type": "client",
    "x-stack-publishable-client-key": clientKey,
    ...extra,
  });
  // This page's address without the handoff's answer in it.
  const here = () => {
    const url = new URL(location.href);
    url.searchParams.delete("code");
    url.searchParams.delete("state");
    return url.toString();
  };

  async function signIn() {
    const verifier = random(48);
    const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    const state = random(24);
    const returnTo = here();
    sessionStorage.setItem(pendingKey, JSON.stringify({ verifier, state, returnTo }));
    const url = new URL(`${base}/handler/${projectId}/sign-in`);
    url.searchParams.set("after_auth_return_to", returnTo);
    url.searchParams.set("stack_cross_domain_state", state);
    url.searchParams.set("stack_cross_domain_code_challenge", challenge);
    location.assign(url.toString());
  }

  // Back from the sign-in page: exchange the code for this page's own session.
  async function finishSignIn() {
    const url = new URL(location.href);
    const code = url.searchParams.get("code");
    const pending = JSON.parse(sessionStorage.getItem(pendingKey) || "null");
    if (!code || !pending || url.searchParams.get("state") !== pending.state) return;
    sessionStorage.removeItem(pendingKey);
    history.replaceState(null, "", here());
    const body = new URLSearchParams({
      grant_type: "authorization_code",
      code,
      code_verifier: pending.verifier,
      redirect_uri: pending.returnTo,
      client_id: projectId,
      client_secret: clientKey,
    });
    const res = await fetch(`${base}/api/v1/auth/oauth/token`, { method: "POST", body });
    if (!res.ok) throw new Error(`The sign-in could not be finished (${res.status})`);
    const t = await res.json();
    localStorage.setItem(storeKey, JSON.stringify({ access: t.access_token, refresh: t.refresh_token }));
  }

  async function refreshAccess(t) {
    const res = await fetch(`${base}/api/v1/auth/sessions/current/refresh`, {
      method: "POST",
      headers: headers({ "x-stack-refresh-token": t.refresh, "content-type": "application/json" }),
      body: "{}",
    });
    if (!res.ok) return null;
    const next = { ...t, access: (await res.json()).access_token };
    localStorage.setItem(storeKey, JSON.stringify(next));
    return next;
  }

  async function getUser() {
    let t = tokens();
    if (!t) return null;
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await fetch(`${base}/api/v1/users/me`, { headers: headers({ "x-stack-access-token": t.access }) });
      if (res.ok) return res.json();
      t = await refreshAccess(t);
      if (!t) break;
    }
    localStorage.removeItem(storeKey);
    return null;
  }

  async function signOut() {
    const t = tokens();
    localStorage.removeItem(storeKey);
    if (t) {
      await fetch(`${base}/api/v1/auth/sessions/current`, {
        method: "DELETE",
        headers: headers({ "x-stack-access-token": t.access, "x-stack-refresh-token": t.refresh }),
      }).catch(() => {});
    }
    render();
  }

  async function render() {
    const user = await getUser();
    for (const el of document.querySelectorAll("[data-portcullis=user-button]")) {
      el.textContent = "";
      if (user) {
        const name = document.createElement("span");
        name.className = "portcullis-user";
        name.textContent = user.display_name || user.primary_email || "Signed in";
        const account = document.createElement("a");
        account.href = `${base}/handler/${projectId}/account-settings`;
        account.textContent = "Account";
        const out = document.createElement("button");
        out.type = "button";
        out.textContent = "Sign out";
        out.onclick = signOut;
        el.append(name, " ", account, " ", out);
      } else {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = "Sign in";
        button.onclick = signIn;
        el.append(button);
      }
    }
  }

  window.Portcullis = { getUser, signIn, signOut };
  finishSignIn()
    .catch((e) => console.error("portcullis:", e))
    .finally(render);
})();
