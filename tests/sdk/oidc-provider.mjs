// A real OpenID Connect provider on loopback for the OAuth tests (oidc-provider from npm): one
// client per provider id (client id = provider id, secret MOCK-SERVER-SECRET), as Portcullis'
// PORTCULLIS_OAUTH_MOCK_ISSUER development setup expects. Its built-in development interactions
// ask for a login name (any) and a consent; the account's `sub` and `email` are that name.
//
//   node tests/sdk/oidc-provider.mjs <port> <portcullis base url>
import Provider from "oidc-provider";

const [port, api] = process.argv.slice(2);
const providers = ["github", "google", "microsoft", "spotify", "facebook", "discord", "gitlab", "bitbucket", "linkedin", "apple", "x", "twitch", "keycloak"];
const issuer = `http://localhost:${port}`;

const provider = new Provider(issuer, {
  clients: providers.map((id) => ({
    client_id: id,
    client_secret: "MOCK-SERVER-SECRET",
    redirect_uris: [`${api}/api/v1/auth/oauth/callback/${id}`, `${api}/api/latest/auth/oauth/callback/${id}`],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
  })),
  pkce: { required: () => true },
  // Scope claims (email…) in the ID token itself, as Apple's native sign-in tokens carry them.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true }, revocation: { enabled: true } },
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name", "picture"] },
  scopes: ["openid", "offline_access", "email", "profile"],
  issueRefreshToken: async () => true,
  // Inside Portcullis' 5-minute margin: every connected-account request refreshes.
  ttl: { AccessToken: 240 },
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        // Logins starting with "unverified" have an email the provider has not verified; those
        // starting with "stringly" say it as the string "true", as Apple's ID tokens may.
        const verified = !sub.startsWith("unverified");
        return { sub, email: sub.includes("@") ? sub : `${sub}@example.com`, email_verified: sub.startsWith("stringly") ? String(verified) : verified, name: sub };
      },
    };
  },
});
provider.proxy = false;
provider.listen(Number(port), "127.0.0.1", () => console.log(`oidc-provider listening at ${issuer}`));
