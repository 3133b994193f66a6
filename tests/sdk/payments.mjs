// The published @stackframe/js server app on payments: grant a product, read an item,
// tryDecreaseQuantity until it fails, list products, create a checkout URL.
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

const user = await server.createUser({ primaryEmail: `payer-${Date.now()}@example.com` });
await user.grantProduct({ productId: "starter" });

const credits = await user.getItem("credits");
assert.equal(credits.displayName, "Credits");
assert.equal(credits.quantity, 100);

// Spend 30 at a time: 3 succeed, the 4th would overdraw and is refused.
let spent = 0;
while (await credits.tryDecreaseQuantity(30)) spent += 30;
assert.equal(spent, 90);
assert.equal((await user.getItem("credits")).quantity, 10);
await credits.increaseQuantity(5);
assert.equal((await user.getItem("credits")).quantity, 15);

const products = await user.listProducts();
assert.equal(products.length, 1);
assert.equal(products[0].id, "starter");
assert.equal(products[0].displayName, "Starter");
assert.equal(products[0].quantity, 1);

const url = await user.createCheckoutUrl({ productId: "credit-pack" });
assert.match(url, /\/purchase\/[^/]+_[0-9a-z]{45}$/);
console.log(JSON.stringify({ ok: true }));
