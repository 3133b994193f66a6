// The published @stackframe/js SDK's data vault (a server app's getDataVaultStore): a value set
// under a key and a secret reads back; another key or another secret finds nothing (the server
// only ever sees the hash of key and secret); a value is replaced; an undeclared store is
// refused with the original's error.
import { StackServerApp } from "@stackframe/js";
import assert from "node:assert/strict";

const env = (name) => process.env[name] ?? (() => { throw new Error(`${name} is not set`); })();
const server = new StackServerApp({
  baseUrl: env("PORTCULLIS_URL"),
  projectId: env("PORTCULLIS_PROJECT_ID"),
  publishableClientKey: env("PORTCULLIS_PUBLISHABLE_CLIENT_KEY"),
  secretServerKey: env("PORTCULLIS_SECRET_SERVER_KEY"),
  tokenStore: "memory",
});
const secret = "the caller's own secret, never sent";

const store = await server.getDataVaultStore("user-secrets");
await store.setValue("github-token:alice", "ghp_first_value", { secret });
assert.equal(await store.getValue("github-token:alice", { secret }), "ghp_first_value");
assert.equal(await store.getValue("github-token:bob", { secret }), null);
assert.equal(await store.getValue("github-token:alice", { secret: "another secret" }), null);
await store.setValue("github-token:alice", "ghp_second_value", { secret });
// Read by another app instance, so no cache of the SDK's answers it.
const again = new StackServerApp({
  baseUrl: env("PORTCULLIS_URL"),
  projectId: env("PORTCULLIS_PROJECT_ID"),
  publishableClientKey: env("PORTCULLIS_PUBLISHABLE_CLIENT_KEY"),
  secretServerKey: env("PORTCULLIS_SECRET_SERVER_KEY"),
  tokenStore: "memory",
});
const sameStore = await again.getDataVaultStore("user-secrets");
assert.equal(sameStore.id, "user-secrets");
assert.equal(await sameStore.getValue("github-token:alice", { secret }), "ghp_second_value");

const missing = await server.getDataVaultStore("no-such-store");
await assert.rejects(missing.setValue("k", "v", { secret }), (e) => {
  assert.match(String(e.message ?? e), /DATA_VAULT_STORE_DOES_NOT_EXIST|Data vault store with ID no-such-store does not exist/);
  return true;
});
console.log(JSON.stringify({ ok: true }));
