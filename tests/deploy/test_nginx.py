"""deploy/nginx.conf (issue 11), rendered by `bookwell nginx_config` and run by Debian's nginx
in front of a stand-in upstream that echoes what it receives: TLS, HSTS, plain HTTP sent to
HTTPS, and the proxy headers the app believes (scheme, client address, request id) set by
nginx, whatever the client wrote."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bookwell.core.management.commands.nginx_config import render
from tests.deploy.tls import self_signed


def _nginx() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is missing (Debian package nginx-light; make browser installs it)")
        pytest.skip("nginx is not installed")
    return found


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[int, int, Path, Path, Any]]:
    nginx = _nginx()
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    cert, key = self_signed(tmp_path / "tls")
    https_port, http_port = _port(), _port()
    (tmp_path / "tmp").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        render(
            server_name="localhost", cert=str(cert), key=str(key),
            upstreams=[f"127.0.0.1:{upstream.server_address[1]}"],
            https_listen=f"127.0.0.1:{https_port}", http_listen=f"127.0.0.1:{http_port}",
            prefix=str(tmp_path / "tmp"), log_dir=str(tmp_path),
            pid_file=str(tmp_path / "nginx.pid"),
        )
    )  # fmt: skip
    check = subprocess.run(
        [nginx, "-t", "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "startup.log")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    server = subprocess.Popen(
        [nginx, "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "startup.log"),
         "-g", "daemon off; user root;" if os.geteuid() == 0 else "daemon off;"],
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not come up"
                time.sleep(0.1)
        yield https_port, http_port, cert, tmp_path, upstream
    finally:
        server.terminate()
        server.wait(timeout=10)
        upstream.shutdown()
        upstream.server_close()


def test_nginx_terminates_tls_and_sets_the_headers_the_app_believes(proxy):
    https_port, http_port, cert, logs, upstream = proxy
    context = ssl.create_default_context(cafile=str(cert))
    forged = urllib.request.Request(
        f"https://localhost:{https_port}/c/x/?q=secret@example.test",
        headers={"X-Forwarded-Proto": "http", "X-Request-ID": "chosen-by-client"},
    )
    with urllib.request.urlopen(forged, context=context, timeout=10) as response:
        seen = json.loads(response.read())
        hsts = response.headers["Strict-Transport-Security"]
    assert hsts == "max-age=31536000; includeSubDomains"
    assert seen["x-forwarded-proto"] == "https"
    assert seen["x-forwarded-for"] == "127.0.0.1"  # the client, as nginx saw it
    assert len(seen["x-request-id"]) == 32 and seen["x-request-id"] != "chosen-by-client"
    # Plain HTTP is sent to HTTPS, path and all.
    plain = socket.create_connection(("127.0.0.1", http_port), timeout=5)
    plain.sendall(b"GET /book/x/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    answer = plain.recv(4096).decode()
    plain.close()
    assert answer.startswith("HTTP/1.1 308")
    assert "Location: https://localhost/book/x/" in answer
    # A manage link's token in the path.
    token = "t0k3n" * 8
    with urllib.request.urlopen(
        f"https://localhost:{https_port}/book/x/manage/{token}/", context=context, timeout=10
    ) as response:
        assert response.status == 200
    # The app is down: 502, and nginx's error line (which names the client) is not written.
    upstream.shutdown()
    upstream.server_close()
    with pytest.raises(urllib.error.HTTPError) as down:
        urllib.request.urlopen(
            f"https://localhost:{https_port}/c/x/?email=secret@example.test", context=context,
            timeout=10,
        )  # fmt: skip
    assert down.value.code == 502
    # The access log: JSON with the request id; no client address, path or query string.
    lines = [json.loads(x) for x in (logs / "bookwell-access.log").read_text().splitlines()]
    assert lines[0]["request_id"] == seen["x-request-id"] and lines[0]["status"] == 200
    assert [line["status"] for line in lines] == [200, 308, 200, 502]
    assert all("path" not in line for line in lines)
    error_log = logs / "bookwell-error.log"
    written = (logs / "bookwell-access.log").read_text()
    written += error_log.read_text() if error_log.exists() else ""
    for secret in (token, "secret@", "/c/x/", "client: 127.0.0.1"):
        assert secret not in written, secret
