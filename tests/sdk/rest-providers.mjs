// Fakes of the OAuth providers Portcullis signs in with through their REST APIs (no OpenID
// Connect): GitHub, Spotify, Facebook, Discord, GitLab, Bitbucket, Microsoft's `common`
// endpoint, X and Twitch. Portcullis reaches them through PORTCULLIS_OAUTH_REROUTE, so a
// provider URL https://<host>/<path> arrives here as /<host>/<path>. Each provider answers with
// the fields its real API documents. Client id `<provider>-client`, secret `<provider>-secret`.
//
// The login page asks for any login name; that user's email is <login>@example.com, verified
// unless the login starts with "unverified". Access tokens last an hour (GitHub's never
// expire); refresh tokens rotate. POST /_revoke?login=<login> revokes all of a user's tokens,
// as a user removing the app at the provider would.
//
//   node tests/sdk/rest-providers.mjs <port>
import http from "node:http";
import crypto from "node:crypto";

const [port] = process.argv.slice(2);

const idOf = (login) => parseInt(crypto.createHash("sha256").update(login).digest("hex").slice(0, 8), 16);
const emailOf = (login) => `${login}@example.com`;
const verified = (login) => !login.startsWith("unverified");

// provider -> its authorization and token endpoints, and its user (and emails) endpoints.
const providers = {
  github: {
    authorize: "/github.com/login/oauth/authorize",
    token: "/github.com/login/oauth/access_token",
    refreshes: false,
    api: {
      "/api.github.com/user": (l) => ({ id: idOf(l), login: l, name: `${l} (GitHub)`, avatar_url: `https://avatars.example/${l}`, email: null }),
      "/api.github.com/user/emails": (l) => [
        { email: `${l}-old@example.com`, primary: false, verified: true },
        { email: emailOf(l), primary: true, verified: verified(l) },
      ],
    },
  },
  spotify: {
    authorize: "/accounts.spotify.com/authorize",
    token: "/accounts.spotify.com/api/token",
    api: { "/api.spotify.com/v1/me": (l) => ({ id: `sp-${l}`, display_name: `${l} (Spotify)`, email: emailOf(l), images: [{ url: `https://i.scdn.example/${l}` }] }) },
  },
  facebook: {
    authorize: "/www.facebook.com/v20.0/dialog/oauth",
    token: "/graph.facebook.com/v20.0/oauth/access_token",
    api: { "/graph.facebook.com/v20.0/me": (l) => ({ id: String(idOf(l)), name: `${l} (Facebook)`, email: emailOf(l), picture: { data: { url: `https://fb.example/${l}` } } }) },
  },
  discord: {
    authorize: "/discord.com/oauth2/authorize",
    token: "/discord.com/api/oauth2/token",
    api: { "/discord.com/api/users/@me": (l) => ({ id: String(idOf(l)), username: l, global_name: `${l} (Discord)`, email: emailOf(l), verified: verified(l), avatar: "a_1234" }) },
  },
  gitlab: {
    authorize: "/gitlab.com/oauth/authorize",
    token: "/gitlab.com/oauth/token",
    api: { "/gitlab.com/api/v4/user": (l) => ({ id: idOf(l), username: l, name: `${l} (GitLab)`, email: emailOf(l), avatar_url: `https://gitlab.example/${l}.png`, confirmed_at: verified(l) ? "2024-01-01T00:00:00Z" : null }) },
  },
  bitbucket: {
    authorize: "/bitbucket.org/site/oauth2/authorize",
    token: "/bitbucket.org/site/oauth2/access_token",
    api: {
      "/api.bitbucket.org/2.0/user": (l) => ({ account_id: `bb:${idOf(l)}`, uuid: `{${idOf(l)}}`, display_name: `${l} (Bitbucket)`, links: { avatar: { href: `https://bitbucket.example/${l}` } } }),
      "/api.bitbucket.org/2.0/user/emails": (l) => ({ values: [{ email: emailOf(l), is_primary: true, is_confirmed: verified(l) }] }),
    },
  },
  microsoft: {
    authorize: "/login.microsoftonline.com/common/oauth2/v2.0/authorize",
    token: "/login.microsoftonline.com/common/oauth2/v2.0/token",
    api: { "/graph.microsoft.com/v1.0/me": (l) => ({ id: `ms-${idOf(l)}`, displayName: `${l} (Microsoft)`, mail: null, userPrincipalName: emailOf(l) }) },
  },
  x: {
    authorize: "/x.com/i/oauth2/authorize",
    token: "/api.x.com/2/oauth2/token",
    api: { "/api.x.com/2/users/me": (l) => ({ data: { id: String(idOf(l)), name: `${l} (X)`, username: l, profile_image_url: `https://pbs.x.example/${l}` } }) },
  },
  twitch: {
    authorize: "/id.twitch.tv/oauth2/authorize",
    token: "/id.twitch.tv/oauth2/token",
    // Helix refuses a request without the app's Client-Id.
    needsClientIdHeader: true,
    api: { "/api.twitch.tv/helix/users": (l) => ({ data: [{ id: String(idOf(l)), display_name: `${l} (Twitch)`, email: emailOf(l), profile_image_url: `https://twitch.example/${l}` }] }) },
  },
};

const codes = new Map(); // code -> { provider, login, challenge, redirect, scope }
const accessTokens = new Map(); // token -> { provider, login }
const refreshTokens = new Map(); // token -> { provider, login, scope }

const send = (res, status, body, type = "application/json") => {
  res.writeHead(status, { "content-type": type });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
};
const readBody = (req) => new Promise((resolve) => {
  let data = "";
  req.on("data", (c) => (data += c));
  req.on("end", () => resolve(new URLSearchParams(data)));
});
const random = (prefix) => `${prefix}_${crypto.randomBytes(16).toString("hex")}`;

/// The client's credentials, from HTTP Basic or the form (RFC 6749 §2.3.1).
function clientOf(req, form) {
  const basic = (req.headers.authorization ?? "").match(/^Basic (.+)$/);
  if (basic) {
    const [id, secret] = Buffer.from(basic[1], "base64").toString().split(":").map(decodeURIComponent);
    return { id, secret };
  }
  return { id: form.get("client_id"), secret: form.get("client_secret") };
}

function issue(res, name, login, scope) {
  const p = providers[name];
  const access = random("at");
  accessTokens.set(access, { provider: name, login });
  const body = { access_token: access, token_type: "bearer", scope };
  if (p.refreshes !== false) {
    const refresh = random("rt");
    refreshTokens.set(refresh, { provider: name, login, scope });
    Object.assign(body, { refresh_token: refresh, expires_in: 3600 });
  }
  send(res, 200, body);
}

http.createServer(async (req, res) => {
  const url = new URL(req.url, `http://localhost:${port}`);
  if (req.method === "POST" && url.pathname === "/_revoke") {
    const login = url.searchParams.get("login");
    for (const map of [accessTokens, refreshTokens]) {
      for (const [token, grant] of map) if (grant.login === login) map.delete(token);
    }
    return send(res, 200, { revoked: login });
  }
  for (const [name, p] of Object.entries(providers)) {
    if (req.method === "GET" && url.pathname === p.authorize) {
      if (url.searchParams.get("client_id") !== `${name}-client`) return send(res, 400, "unknown client", "text/plain");
      const action = `${p.authorize}/approve?${url.searchParams}`.replaceAll("&", "&amp;");
      return send(res, 200, `<form action="${action}" method="post"><input name="login"><input name="password" type="password"><button>Sign in to ${name}</button></form>`, "text/html");
    }
    if (req.method === "POST" && url.pathname === `${p.authorize}/approve`) {
      const form = await readBody(req);
      const code = random("code");
      codes.set(code, {
        provider: name,
        login: form.get("login"),
        challenge: url.searchParams.get("code_challenge"),
        redirect: url.searchParams.get("redirect_uri"),
        scope: url.searchParams.get("scope") ?? "",
      });
      const back = new URL(url.searchParams.get("redirect_uri"));
      back.searchParams.set("code", code);
      back.searchParams.set("state", url.searchParams.get("state"));
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (req.method === "POST" && url.pathname === p.token) {
      const form = await readBody(req);
      const client = clientOf(req, form);
      if (client.id !== `${name}-client` || client.secret !== `${name}-secret`) {
        return send(res, 401, { error: "invalid_client" });
      }
      if (form.get("grant_type") === "refresh_token") {
        const grant = refreshTokens.get(form.get("refresh_token"));
        refreshTokens.delete(form.get("refresh_token"));
        if (!grant || grant.provider !== name) return send(res, 400, { error: "invalid_grant" });
        return issue(res, name, grant.login, grant.scope);
      }
      const grant = codes.get(form.get("code"));
      codes.delete(form.get("code"));
      const computed = crypto.createHash("sha256").update(form.get("code_verifier") ?? "").digest("base64url");
      if (!grant || grant.provider !== name || grant.challenge !== computed || grant.redirect !== form.get("redirect_uri")) {
        return send(res, 400, { error: "invalid_grant" });
      }
      return issue(res, name, grant.login, grant.scope);
    }
    const read = p.api[url.pathname];
    if (req.method === "GET" && read) {
      const grant = accessTokens.get((req.headers.authorization ?? "").replace(/^Bearer /i, ""));
      if (!grant || grant.provider !== name) return send(res, 401, { message: "Bad credentials" });
      if (p.needsClientIdHeader && req.headers["client-id"] !== `${name}-client`) return send(res, 401, { message: "Client-Id header required" });
      return send(res, 200, read(grant.login));
    }
  }
  send(res, 404, { message: "Not Found" });
}).listen(Number(port), "127.0.0.1", () => console.log(`REST OAuth providers at http://localhost:${port}`));
