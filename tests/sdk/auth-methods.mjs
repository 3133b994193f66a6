// The published @stackframe/js SDK driving the sign-in methods that need no browser: an
// anonymous user who signs up keeps their id and data, TOTP multi-factor sign-in finished with
// signInWithMfa (the TOTP computed here, RFC 6238), and CLI sign-in with promptCliLogin while
// "the browser" completes the login code. Exits non-zero on the first mismatch.
import { StackClientApp, StackServerApp } from "@stackframe/js";
import assert from "node:assert/strict";
import crypto from "node:crypto";

const env = (name) => process.env[name] ?? (() => { throw new Error(`${name} is not set`); })();
const baseUrl = env("PORTCULLIS_URL");
const projectId = env("PORTCULLIS_PROJECT_ID");
const publishableClientKey = env("PORTCULLIS_PUBLISHABLE_CLIENT_KEY");
const secretServerKey = env("PORTCULLIS_SECRET_SERVER_KEY");
const newClient = () => new StackClientApp({ baseUrl, projectId, publishableClientKey, tokenStore: "memory" });
const server = new StackServerApp({ baseUrl, projectId, publishableClientKey, secretServerKey, tokenStore: "memory" });
const api = (path, body, headers = {}) => fetch(`${baseUrl}/api/v1${path}`, {
  method: "POST",
  headers: { "content-type": "application/json", "x-stack-access-type": "client", "x-stack-project-id": projectId, "x-stack-publishable-client-key": publishableClientKey, ...headers },
  body: JSON.stringify(body),
});

// RFC 6238 TOTP (HMAC-SHA1, 6 digits, 30 s) of `secret` (bytes) at `time` seconds.
const totp = (secret, time = Date.now() / 1000) => {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(time / 30)));
  const mac = crypto.createHmac("sha1", secret).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
};

// Anonymous: a user before signing up, then the same user with a password.
const shopper = newClient();
const anon = await shopper.getUser({ or: "anonymous" });
assert.equal(anon.isAnonymous, true);
await anon.update({ clientMetadata: { cart: ["book"] } });
const email = `sdk-methods-${Date.now()}@example.com`;
const upgraded = await shopper.signUpWithCredential({ email, password: "password123", noRedirect: true, noVerificationCallback: true });
assert.equal(upgraded.status, "ok", JSON.stringify(upgraded));
const member = await shopper.getUser({ or: "throw" });
assert.equal(member.id, anon.id);
assert.equal(member.isAnonymous, false);
assert.equal(member.primaryEmail, email);
assert.deepEqual(member.clientMetadata, { cart: ["book"] });

// TOTP: the server turns it on; the password alone then asks for the second factor.
const secret = crypto.randomBytes(20);
const serverUser = await server.getUser(member.id);
await serverUser.update({ totpMultiFactorSecret: secret });
const first = await (await api("/auth/password/sign-in", { email, password: "password123" })).json();
assert.equal(first.code, "MULTI_FACTOR_AUTHENTICATION_REQUIRED", JSON.stringify(first));
const device = newClient();
const wrong = await device.signInWithMfa(totp(secret) === "000000" ? "111111" : "000000", first.details.attempt_code, { noRedirect: true });
assert.equal(wrong.status, "error");
assert.equal(wrong.error.errorCode, "INVALID_TOTP_CODE");
const second = await device.signInWithMfa(totp(secret), first.details.attempt_code, { noRedirect: true });
assert.equal(second.status, "ok", JSON.stringify(second));
assert.equal((await device.getUser({ or: "throw" })).id, member.id);
await serverUser.update({ totpMultiFactorSecret: null });

// CLI: the CLI waits while the signed-in browser completes the login code.
const browser = newClient();
assert.equal((await browser.signInWithCredential({ email, password: "password123", noRedirect: true })).status, "ok");
const browserTokens = await (await browser.getUser({ or: "throw" })).currentSession.getTokens();
const cli = newClient();
const login = await cli.promptCliLogin({
  appUrl: "http://localhost:3000",
  waitTimeMillis: 100,
  maxAttempts: 100,
  promptLink: (url, loginCode) => {
    assert.ok(url.includes(loginCode), url);
    setTimeout(async () => {
      const done = await api("/auth/cli/complete", { login_code: loginCode, refresh_token: browserTokens.refreshToken });
      assert.equal(done.status, 200, await done.text());
    }, 300);
  },
});
assert.equal(login.status, "ok", JSON.stringify(login));
assert.notEqual(login.data, browserTokens.refreshToken);
const refreshed = await (await api("/auth/sessions/current/refresh", {}, { "x-stack-refresh-token": login.data })).json();
assert.ok(refreshed.access_token, JSON.stringify(refreshed));
// An expired attempt: promptCliLogin reports it.
const expired = await newClient().promptCliLogin({ appUrl: "http://localhost:3000", expiresInMillis: 200, waitTimeMillis: 300, maxAttempts: 5, promptLink: () => {} });
assert.equal(expired.status, "error");
assert.equal(expired.error.errorCode, "CLI_AUTH_EXPIRED_ERROR");

console.log(JSON.stringify({ ok: true }));
