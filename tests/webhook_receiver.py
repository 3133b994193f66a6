"""A real webhook receiver for the tests: an HTTP server on 127.0.0.1 that verifies every
request with the official `standardwebhooks` package and writes each one as a JSON line
(webhook-id, timestamp, verified or why not, the parsed body, when it arrived) to a file.

    python3 tests/webhook_receiver.py --port 8123 --secret whsec_... --log /tmp/hooks.jsonl \
        [--fail-first N] [--status 500] [--delay-ms MS]

`--fail-first N` answers the first N requests with `--status` (default 500) and counts them as
received too, so retries can be seen; `--delay-ms` answers each request that much later (a slow
receiver, so a server can be killed while its requests are in flight). Prints "ready" once
listening.
"""
import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--status", type=int, default=500)
    parser.add_argument("--delay-ms", type=int, default=0)
    args = parser.parse_args()
    verifier = Webhook(args.secret)
    lock = threading.Lock()
    seen = {"count": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                payload = verifier.verify(body, headers)
                verified, error = True, None
            except Exception as e:  # the package's verification errors
                payload, verified, error = None, False, f"{type(e).__name__}: {e}"
            with lock:
                seen["count"] += 1
                failing = seen["count"] <= args.fail_first
                record = {
                    "id": headers.get("webhook-id"),
                    "svix_id": headers.get("svix-id"),
                    "timestamp": headers.get("webhook-timestamp"),
                    "verified": verified,
                    "error": error,
                    "payload": payload,
                    "received_at_ms": int(time.time() * 1000),
                    "answered": args.status if failing else 200,
                }
                with open(args.log, "a") as f:
                    f.write(json.dumps(record) + "\n")
            # Logged on arrival, answered `--delay-ms` later.
            time.sleep(args.delay_ms / 1000)
            status = args.status if failing else 200
            try:
                self.send_response(status)
                self.send_header("content-type", "text/plain")
                self.end_headers()
                self.wfile.write(b"failing on purpose" if failing else b"ok")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender died while we were answering

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
