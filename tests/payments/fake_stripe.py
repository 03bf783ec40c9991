"""A local stand-in for Stripe's API: records every request and answers Checkout Session
creation like Stripe does (form-encoded in, JSON out). The real `stripe` package talks to it
through BOOKWELL_STRIPE_API_BASE."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]
    raw: str


@dataclass
class FakeStripe:
    base: str = ""
    requests: list[Recorded] = field(default_factory=list)
    fail_with: int | None = None  # answer every request with this status
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: list[dict[str, str]] = field(default_factory=list)
    # Where Checkout pages are said to be: Stripe's look-alike address by default, or this
    # server itself (serve_checkout), for a browser to land on.
    serve_checkout: bool = False
    expired: list[str] = field(default_factory=list)


@contextmanager
def fake_stripe() -> Iterator[FakeStripe]:
    state = FakeStripe()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            form = dict(parse_qsl(raw, keep_blank_values=True))
            state.requests.append(
                Recorded(
                    "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, form, raw
                )
            )
            if state.fail_with:
                self._answer(
                    state.fail_with,
                    {"error": {"type": "api_error", "message": "fake failure", "code": "fake"}},
                )
                return
            if self.path == "/v1/checkout/sessions":
                key = self.headers.get("Idempotency-Key", "")
                known = state.sessions.get(key)
                if known is None:
                    sid = "cs_test_" + secrets.token_hex(12)
                    known = state.sessions[key] = {
                        "id": sid,
                        "object": "checkout.session",
                        "url": (
                            f"{state.base}/c/pay/{sid}"
                            if state.serve_checkout
                            else f"https://checkout.stripe.test/c/pay/{sid}"
                        ),
                        "amount_total": int(form.get("line_items[0][price_data][unit_amount]", 0)),
                        "currency": form.get("line_items[0][price_data][currency]"),
                        "client_reference_id": form.get("client_reference_id"),
                        "status": "open",
                    }
                self._answer(200, known)
                return
            if self.path == "/v1/refunds":
                rid = "re_test_" + secrets.token_hex(8)
                state.refunds.append(form)
                self._answer(200, {"id": rid, "object": "refund", "status": "succeeded",
                                   "amount": int(form.get("amount", 0))})  # fmt: skip
                return
            if self.path.startswith("/v1/checkout/sessions/") and self.path.endswith("/expire"):
                sid = self.path.split("/")[4]
                state.expired.append(sid)
                self._answer(200, {"id": sid, "object": "checkout.session", "status": "expired"})
                return
            self._answer(404, {"error": {"type": "invalid_request_error", "code": "not_found"}})

        def do_GET(self) -> None:
            """A stand-in Checkout page (the browser test lands here)."""
            page = (
                b"<!doctype html><html lang='en'><head><title>Fake Checkout</title></head>"
                b"<body><main><h1>Fake Stripe Checkout</h1></main></body></html>"
            )
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", "req_fake")
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
