// The tiny app: the published @stackframe/js SDK in the browser. "/" shows the signed-in user
// (email, linked providers, whether they have a passkey) with "Link Google", "Add a passkey" and
// "Sign out", or when signed out "Sign in with GitHub", "Sign in with a passkey" and an
// email/password form; /handler/oauth-callback finishes an OAuth flow with callOAuthCallback();
// /handler/error shows the error the server redirected with. `__PORTCULLIS__` is replaced by
// serve-oauth-app.mjs when bundling.
import { StackClientApp } from "@stackframe/js";

const config = __PORTCULLIS__;
const app = new StackClientApp({
  projectId: config.projectId,
  publishableClientKey: config.publishableClientKey,
  baseUrl: config.baseUrl,
  tokenStore: "cookie",
  urls: {
    home: "/",
    signIn: "/",
    afterSignIn: "/",
    afterSignUp: "/",
    afterSignOut: "/",
    oauthCallback: "/handler/oauth-callback",
    error: "/handler/error",
  },
});

const $ = (id) => document.getElementById(id);
const status = (text) => ($("status").textContent = text);
function showError(e) {
  // A KnownError carries the server's code (e.g. REDIRECT_URL_NOT_WHITELISTED).
  const code = e?.errorCode ?? e?.code ?? "";
  $("error").textContent = `${code ? code + ": " : ""}${e?.message ?? e}`;
  $("error").dataset.code = code;
  status("Error");
}
$("origin").textContent = location.origin;

async function home() {
  const user = await app.getUser();
  if (!user) {
    status("Signed out");
    $("sign-in-github").hidden = false;
    $("sign-in-github").onclick = () => {
      status("Redirecting to GitHub…");
      app.signInWithOAuth("github").catch(showError);
    };
    $("sign-in-passkey").hidden = false;
    $("sign-in-passkey").onclick = () => {
      status("Waiting for the passkey…");
      app.signInWithPasskey().then(orThrow).catch(showError);
    };
    $("password-form").hidden = false;
    $("password-form").onsubmit = (e) => {
      e.preventDefault();
      status("Signing in…");
      app
        .signInWithCredential({ email: $("email-input").value, password: $("password-input").value })
        .then(orThrow)
        .catch(showError);
    };
    return;
  }
  status("Signed in");
  $("user").hidden = false;
  $("email").textContent = user.primaryEmail ?? "(no email)";
  const providers = user.oauthProviders.map((p) => p.id).sort();
  $("providers").textContent = providers.join(", ");
  $("providers").dataset.ids = providers.join(",");
  $("link-google").hidden = providers.includes("google");
  $("link-google").onclick = () => {
    status("Redirecting to Google…");
    user.linkConnectedAccount("google").catch(showError);
  };
  $("passkey").textContent = user.passkeyAuthEnabled ? "yes" : "no";
  $("add-passkey").hidden = false;
  $("add-passkey").onclick = async () => {
    status("Waiting for the passkey…");
    try {
      orThrow(await user.registerPasskey());
      location.reload();
    } catch (e) {
      showError(e);
    }
  };
  $("sign-out").hidden = false;
  $("sign-out").onclick = () => user.signOut().catch(showError);
}

/** The SDK answers some calls with a Result: its error becomes an exception here. */
function orThrow(result) {
  if (result?.status === "error") throw result.error;
  return result;
}

async function callback() {
  status("Finishing sign-in…");
  // Signs in with the code in the URL and redirects (afterSignIn/afterSignUp or back to the
  // page the flow started from).
  await app.callOAuthCallback();
}

function error() {
  const q = new URLSearchParams(location.search);
  showError({ errorCode: q.get("errorCode"), message: q.get("message") ?? q.get("error_description") ?? location.search });
}

const pages = { "/": home, "/handler/oauth-callback": callback, "/handler/error": error };
const page = pages[location.pathname];
document.body.dataset.page = location.pathname;
(page ? Promise.resolve().then(page) : Promise.reject(new Error(`no page ${location.pathname}`)))
  .catch(showError)
  .finally(() => (document.body.dataset.ready = "true"));
