// A GitHub-style OAuth 2 provider on loopback for the OAuth tests: no OpenID Connect, an
// authorization code with PKCE, and the user and emails APIs GitHub answers. Its login page asks
// for any login name; that user's primary email is <login>@example.com, verified unless the login
// starts with "unverified".
//
//   node tests/sdk/github-provider.mjs <port> <client id> <client secret>
import http from "node:http";
import crypto from "node:crypto";

const [port, clientId, clientSecret] = process.argv.slice(2);
const codes = new Map(); // code -> { login, challenge, redirect }
const tokens = new Map(); // access token -> login

const send = (res, status, body, type = "application/json") => {
  res.writeHead(status, { "content-type": type });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
};
const readBody = (req) => new Promise((resolve) => {
  let data = "";
  req.on("data", (c) => (data += c));
  req.on("end", () => resolve(new URLSearchParams(data)));
});
const userOf = (req) => tokens.get((req.headers.authorization ?? "").replace(/^(Bearer|token) /i, ""));

http.createServer(async (req, res) => {
  const url = new URL(req.url, `http://localhost:${port}`);
  if (req.method === "GET" && url.pathname === "/login/oauth/authorize") {
    if (url.searchParams.get("client_id") !== clientId) return send(res, 400, "unknown client", "text/plain");
    const action = `/login/oauth/approve?${url.searchParams}`.replaceAll("&", "&amp;");
    return send(res, 200, `<form action="${action}" method="post"><input name="login"><input name="password" type="password"><button>Sign in</button></form>`, "text/html");
  }
  if (req.method === "POST" && url.pathname === "/login/oauth/approve") {
    const form = await readBody(req);
    const code = crypto.randomBytes(16).toString("hex");
    codes.set(code, { login: form.get("login"), challenge: url.searchParams.get("code_challenge"), redirect: url.searchParams.get("redirect_uri") });
    const back = new URL(url.searchParams.get("redirect_uri"));
    back.searchParams.set("code", code);
    back.searchParams.set("state", url.searchParams.get("state"));
    res.writeHead(302, { location: back.toString() });
    return res.end();
  }
  if (req.method === "POST" && url.pathname === "/login/oauth/access_token") {
    const form = await readBody(req);
    const basic = Buffer.from((req.headers.authorization ?? "").replace(/^Basic /, ""), "base64").toString();
    const [id, secret] = basic.includes(":") ? basic.split(":").map(decodeURIComponent) : [form.get("client_id"), form.get("client_secret")];
    if (id !== clientId || secret !== clientSecret) return send(res, 401, { error: "incorrect_client_credentials" });
    const grant = codes.get(form.get("code"));
    codes.delete(form.get("code"));
    const verifier = form.get("code_verifier") ?? "";
    const computed = crypto.createHash("sha256").update(verifier).digest("base64url");
    if (!grant || grant.challenge !== computed || grant.redirect !== form.get("redirect_uri")) {
      return send(res, 200, { error: "bad_verification_code" });
    }
    const token = `gho_${crypto.randomBytes(16).toString("hex")}`;
    tokens.set(token, grant.login);
    return send(res, 200, { access_token: token, token_type: "bearer", scope: "user:email" });
  }
  if (req.method === "GET" && url.pathname === "/user") {
    const login = userOf(req);
    if (!login) return send(res, 401, { message: "Bad credentials" });
    const id = parseInt(crypto.createHash("sha256").update(login).digest("hex").slice(0, 8), 16);
    return send(res, 200, { id, login, name: `${login} (GitHub)`, avatar_url: `https://avatars.example/${login}`, email: null });
  }
  if (req.method === "GET" && url.pathname === "/user/emails") {
    const login = userOf(req);
    if (!login) return send(res, 401, { message: "Bad credentials" });
    return send(res, 200, [
      { email: `${login}-old@example.com`, primary: false, verified: true },
      { email: `${login}@example.com`, primary: true, verified: !login.startsWith("unverified") },
    ]);
  }
  send(res, 404, { message: "Not Found" });
}).listen(Number(port), "127.0.0.1", () => console.log(`github-style provider at http://localhost:${port}`));
