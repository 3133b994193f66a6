// The published SDK's StackAdminApp (what the original's dashboard and admin scripts use):
// read and update the project, read the rendered config and override it, create an internal
// API key set whose key then works, and revoke it; then a sign-up rule written through the
// config override and evaluated on a client app's sign-up.
import { StackAdminApp, StackClientApp, StackServerApp } from "@stackframe/js";
import assert from "node:assert/strict";

const env = (name) => process.env[name] ?? (() => { throw new Error(`${name} is not set`); })();
const admin = new StackAdminApp({
  baseUrl: env("PORTCULLIS_URL"),
  projectId: env("PORTCULLIS_PROJECT_ID"),
  publishableClientKey: env("PORTCULLIS_PUBLISHABLE_CLIENT_KEY"),
  secretServerKey: env("PORTCULLIS_SECRET_SERVER_KEY"),
  superSecretAdminKey: env("PORTCULLIS_SUPER_SECRET_ADMIN_KEY"),
  tokenStore: "memory",
});

const project = await admin.getProject();
assert.equal(project.id, env("PORTCULLIS_PROJECT_ID"));
assert.equal(project.config.signUpEnabled, true);
await project.update({ displayName: "Renamed by the admin SDK", config: { clientUserDeletionEnabled: true } });
const renamed = await admin.getProject();
assert.equal(renamed.displayName, "Renamed by the admin SDK");
assert.equal(renamed.config.clientUserDeletionEnabled, true);

// The rendered config: the original's keys, with the settings just written.
const config = await renamed.getConfig();
assert.equal(config.users.allowClientUserDeletion, true);
assert.equal(config.auth.allowSignUp, true);
assert.equal(typeof config.domains.trustedDomains, "object");
assert.equal(config.auth.oauth.accountMergeStrategy, "link_method");
// An override by dotted key: a setting (seen by the legacy read too) and a data vault store.
await renamed.updateConfig({ "auth.allowSignUp": false, "dataVault.stores.notes": { displayName: "Notes" } });
const after = await (await admin.getProject()).getConfig();
assert.equal(after.auth.allowSignUp, false);
assert.equal(after.dataVault.stores.notes.displayName, "Notes");
assert.equal((await admin.getProject()).config.signUpEnabled, false);

// An internal API key set: its secret server key works for a server app until revoked.
const created = await admin.createInternalApiKey({
  description: "made by the admin SDK",
  expiresAt: new Date(Date.now() + 24 * 3600 * 1000),
  hasPublishableClientKey: false,
  hasSecretServerKey: true,
  hasSuperSecretAdminKey: false,
});
assert.match(created.secretServerKey, /^ssk_/);
assert.equal(created.publishableClientKey, undefined);
const server = new StackServerApp({
  baseUrl: env("PORTCULLIS_URL"),
  projectId: env("PORTCULLIS_PROJECT_ID"),
  publishableClientKey: env("PORTCULLIS_PUBLISHABLE_CLIENT_KEY"),
  secretServerKey: created.secretServerKey,
  tokenStore: "memory",
});
await server.createUser({ primaryEmail: "made-with-new-key@example.com" });
const listed = (await admin.listInternalApiKeys()).find((k) => k.id === created.id);
assert.equal(listed.secretServerKey.lastFour, created.secretServerKey.slice(-4));
assert.equal(listed.publishableClientKey, null);
assert.ok(listed.isValid());
await listed.revoke();
const revoked = (await admin.listInternalApiKeys()).find((k) => k.id === created.id);
assert.equal(revoked.whyInvalid(), "manually-revoked");
await assert.rejects(server.createUser({ primaryEmail: "after-revoke@example.com" }));

// A sign-up rule written as the dashboard writes it, evaluated on the SDK's sign-up: the rule's
// own message stays with the admins.
await renamed.updateConfig({
  "auth.allowSignUp": true,
  "auth.signUpRules.no-spam": {
    enabled: true, displayName: "No spam", priority: 1,
    condition: 'email.contains("spam") && authMethod == "password"',
    action: { type: "reject", message: "spammer" },
  },
});
const rules = (await (await admin.getProject()).getConfig()).auth.signUpRules;
assert.deepEqual(Object.keys(rules), ["no-spam"]);
const client = () => new StackClientApp({
  baseUrl: env("PORTCULLIS_URL"),
  projectId: env("PORTCULLIS_PROJECT_ID"),
  publishableClientKey: env("PORTCULLIS_PUBLISHABLE_CLIENT_KEY"),
  tokenStore: "memory",
});
const signUp = async (email) => {
  try {
    return await client().signUpWithCredential({ email, password: "password123", noRedirect: true, noVerificationCallback: true });
  } catch (error) {
    return { status: "error", error };
  }
};
const refused = await signUp("spam-bot@example.com");
assert.equal(refused.status, "error");
assert.equal(refused.error.errorCode, "SIGN_UP_REJECTED");
assert.doesNotMatch(String(refused.error.message), /spammer/);
assert.equal((await signUp("ham@example.com")).status, "ok");
console.log(JSON.stringify({ ok: true }));
