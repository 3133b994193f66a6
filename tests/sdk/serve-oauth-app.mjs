// Serves the tiny OAuth app (tests/sdk/oauth-app) on the given ports: its HTML for every page and
// /app.js, bundled at startup with esbuild from app.js and the published @stackframe/js SDK, with
// the project's id, publishable key and API base URL built in. One bundle, any number of ports
// (origins), so a trusted and an untrusted origin run the same app.
//
//   PORTCULLIS_URL=… PORTCULLIS_PROJECT_ID=… PORTCULLIS_PUBLISHABLE_CLIENT_KEY=… \
//     node tests/sdk/serve-oauth-app.mjs <port> [<port>…]
import { build } from "esbuild";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";

const dir = new URL("./oauth-app/", import.meta.url);
const config = {
  baseUrl: process.env.PORTCULLIS_URL,
  projectId: process.env.PORTCULLIS_PROJECT_ID,
  publishableClientKey: process.env.PORTCULLIS_PUBLISHABLE_CLIENT_KEY,
};
for (const [k, v] of Object.entries(config)) if (!v) throw new Error(`${k} is not set`);

const bundle = await build({
  entryPoints: [new URL("app.js", dir).pathname],
  bundle: true,
  write: false,
  format: "esm",
  platform: "browser",
  target: "chrome120",
  define: { __PORTCULLIS__: JSON.stringify(config), "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
});
const js = bundle.outputFiles[0].contents;
const html = readFileSync(new URL("index.html", dir));

for (const port of process.argv.slice(2)) {
  createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (path === "/app.js") {
      res.writeHead(200, { "content-type": "text/javascript", "cache-control": "no-store" });
      return res.end(js);
    }
    if (path === "/" || path.startsWith("/handler/")) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      return res.end(html);
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found");
  }).listen(Number(port), "127.0.0.1", () => console.log(`oauth app at http://localhost:${port}`));
}
