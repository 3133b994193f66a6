// The published @stackframe/js SDK on teams, permissions and API keys: create a team as a
// signed-in user, invite someone, list members, check a permission, create and revoke an API key.
import { StackClientApp, StackServerApp } from "@stackframe/js";
import assert from "node:assert/strict";

const env = (name) => process.env[name] ?? (() => { throw new Error(`${name} is not set`); })();
const baseUrl = env("PORTCULLIS_URL");
const projectId = env("PORTCULLIS_PROJECT_ID");
const publishableClientKey = env("PORTCULLIS_PUBLISHABLE_CLIENT_KEY");
const secretServerKey = env("PORTCULLIS_SECRET_SERVER_KEY");

const app = new StackClientApp({ baseUrl, projectId, publishableClientKey, tokenStore: "memory" });
const server = new StackServerApp({ baseUrl, projectId, publishableClientKey, secretServerKey, tokenStore: "memory" });
const email = `teams-${Date.now()}@example.com`;
const signedUp = await app.signUpWithCredential({ email, password: "password123", noRedirect: true, verificationCallbackUrl: "http://localhost:3000/handler/email-verification" });
assert.equal(signedUp.status, "ok", JSON.stringify(signedUp));
const user = await app.getUser({ or: "throw" });

// Create a team; the SDK also selects it.
const team = await user.createTeam({ displayName: "SDK Team" });
assert.equal(team.displayName, "SDK Team");
const me = await app.getUser({ or: "throw" });
assert.equal(me.selectedTeam?.id, team.id);
assert.ok((await me.listTeams()).some((t) => t.id === team.id));

// Invite someone (the email is queued) and see the invitation.
await team.inviteUser({ email: "invitee@example.com", callbackUrl: "http://localhost:3000/handler/team-invitation" });
const invitations = await team.listInvitations();
assert.ok(invitations.some((i) => i.recipientEmail === "invitee@example.com"), JSON.stringify(invitations));

// Members: the creator, plus a user added by the server.
const other = await server.createUser({ primaryEmail: `other-${Date.now()}@example.com` });
const serverTeam = await server.getTeam(team.id);
await serverTeam.addUser(other.id);
const members = await team.listUsers();
assert.deepEqual(members.map((m) => m.id).sort(), [user.id, other.id].sort());

// Permissions: the creator holds team_admin, hence $update_team; the added member does not.
assert.equal(await me.hasPermission(team, "$update_team"), true);
assert.equal(await me.hasPermission(team, "team_admin"), true);
const otherServerUser = await server.getUser(other.id);
assert.equal(await otherServerUser.hasPermission(serverTeam, "$update_team"), false);
assert.equal(await otherServerUser.hasPermission(serverTeam, "$read_members"), true);

// A user API key: created (value shown once), listed, checked by the server, revoked.
const key = await me.createApiKey({ description: "sdk key", expiresAt: null });
assert.ok(key.value.startsWith("sk_"), key.value);
assert.ok((await me.listApiKeys()).some((k) => k.id === key.id));
const checked = await server.getUser({ apiKey: key.value });
assert.equal(checked?.id, user.id);
await key.revoke();
const after = (await me.listApiKeys()).find((k) => k.id === key.id);
assert.equal(after.isValid(), false);
assert.equal(after.whyInvalid(), "manually-revoked");
assert.equal(await server.getUser({ apiKey: key.value }), null);
console.log(JSON.stringify({ ok: true, team_id: team.id }));
