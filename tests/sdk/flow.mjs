// The published @stackframe/js SDK against a running Portcullis server: sign up, sign in, read
// and update the current user, refresh the access token, list users with the server app, sign
// out. Exits non-zero with a message on the first mismatch.
import { StackClientApp, StackServerApp } from "@stackframe/js";
import assert from "node:assert/strict";

const env = (name) => process.env[name] ?? (() => { throw new Error(`${name} is not set`); })();
const baseUrl = env("PORTCULLIS_URL");
const projectId = env("PORTCULLIS_PROJECT_ID");
const publishableClientKey = env("PORTCULLIS_PUBLISHABLE_CLIENT_KEY");
const secretServerKey = env("PORTCULLIS_SECRET_SERVER_KEY");
const callback = "http://localhost:3000/handler/email-verification";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const newClient = () => new StackClientApp({ baseUrl, projectId, publishableClientKey, tokenStore: "memory" });
const server = new StackServerApp({ baseUrl, projectId, publishableClientKey, secretServerKey, tokenStore: "memory" });
const email = `sdk-${Date.now()}@example.com`;

// Sign up.
const signUpApp = newClient();
const signedUp = await signUpApp.signUpWithCredential({ email, password: "password123", noRedirect: true, verificationCallbackUrl: callback });
assert.equal(signedUp.status, "ok", `sign-up failed: ${JSON.stringify(signedUp)}`);
const duplicate = await newClient().signUpWithCredential({ email, password: "password123", noRedirect: true, verificationCallbackUrl: callback });
assert.equal(duplicate.status, "error");
assert.equal(duplicate.error.errorCode, "USER_EMAIL_ALREADY_EXISTS");

// Sign in (a fresh app, so nothing is carried over), and a wrong password.
const app = newClient();
const wrong = await app.signInWithCredential({ email, password: "wrong-password", noRedirect: true });
assert.equal(wrong.status, "error");
assert.equal(wrong.error.errorCode, "EMAIL_PASSWORD_MISMATCH");
const signedIn = await app.signInWithCredential({ email, password: "password123", noRedirect: true });
assert.equal(signedIn.status, "ok", `sign-in failed: ${JSON.stringify(signedIn)}`);

// Read the current user.
const user = await app.getUser({ or: "throw" });
assert.equal(user.primaryEmail, email);
assert.equal(user.hasPassword, true);

// Update the display name; a fresh read sees it.
await user.update({ displayName: "SDK Person" });
const reread = await app.getUser({ or: "throw" });
assert.equal(reread.displayName, "SDK Person");

// Refresh: the server issues 22 s tokens; once under 20 s left the SDK refreshes via /auth/oauth/token.
const before = await reread.currentSession.getTokens();
await sleep(3000);
const after = await reread.currentSession.getTokens();
assert.ok(before.accessToken && after.accessToken, "tokens present");
assert.notEqual(after.accessToken, before.accessToken, "the access token was refreshed");
assert.equal(after.refreshToken, before.refreshToken, "the refresh token is kept");
assert.equal((await app.getUser({ or: "throw" })).id, user.id);

// List users with the server app.
const users = await server.listUsers();
assert.ok(users.some((u) => u.primaryEmail === email), "server lists the new user");
const serverUser = await server.getUser(user.id);
assert.equal(serverUser.displayName, "SDK Person");
await serverUser.update({ serverMetadata: { plan: "pro" } });
assert.deepEqual((await server.getUser(user.id)).serverMetadata, { plan: "pro" });

// Sign out: the session is over, and its refresh token no longer works.
await app.signOut({ redirectUrl: "about:blank" });
assert.equal(await app.getUser(), null);
console.log(JSON.stringify({ ok: true, user_id: user.id }));
