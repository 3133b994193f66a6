"""A real SMTP server for the tests: accepts mail on 127.0.0.1 and writes each message, decoded,
as one JSON file into a directory (envelope, headers, plain text and HTML bodies).

    python3 tests/smtp_sink.py --port 2525 --dir /tmp/mail [--user u --password p]

With --user/--password the server requires AUTH (plain or login, without TLS on loopback).
Prints "ready" once listening.
"""
import argparse
import email
import email.policy
import json
import logging
import os
import signal
import threading
import time
import uuid
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, directory):
        self.directory = directory

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "message_id": str(msg["Message-ID"]),
            "text": text.get_content() if text else "",
            "html": html.get_content() if html else "",
            "authenticated_as": getattr(session, "auth_data", None) and session.auth_data.login.decode(),
        }
        name = f"{time.time_ns()}-{uuid.uuid4().hex}"
        tmp = os.path.join(self.directory, name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.directory, name + ".json"))
        return "250 OK"


def main():
    warnings.filterwarnings("ignore")
    logging.disable(logging.CRITICAL)
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--user")
    p.add_argument("--password")
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    kwargs = {}
    if a.user:
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == a.user and auth_data.password.decode() == a.password
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)
        kwargs = dict(authenticator=authenticator, auth_required=True, auth_require_tls=False)
    controller = Controller(Sink(a.dir), hostname="127.0.0.1", port=a.port, **kwargs)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
