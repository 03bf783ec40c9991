"""`bookwell nginx_config`: prints deploy/nginx.conf filled in for this installation (the
configuration the cluster test runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

TEMPLATE = Path(__file__).resolve().parents[4] / "deploy" / "nginx.conf"


def render(
    *,
    server_name: str,
    cert: str,
    key: str,
    upstreams: list[str],
    https_listen: str = "443",
    http_listen: str = "80",
    prefix: str = "/var/lib/nginx",
    log_dir: str = "/var/log/nginx",
    pid_file: str = "/run/nginx.pid",
) -> str:
    if not upstreams:
        raise ValueError("name at least one upstream (host:port of a `bookwell serve`)")
    values = {
        "SERVER_NAME": server_name,
        "CERT": cert,
        "KEY": key,
        # A server that refuses connections is left alone for a few seconds, then tried again.
        "UPSTREAMS": "\n".join(
            f"        server {u} max_fails=1 fail_timeout=3s;" for u in upstreams
        ),
        "HTTPS_LISTEN": https_listen,
        "HTTP_LISTEN": http_listen,
        "TEMP_DIR": prefix,
        "ACCESS_LOG": f"{log_dir}/bookwell-access.log",
        "ERROR_LOG": f"{log_dir}/bookwell-error.log",
        "PID_FILE": pid_file,
    }
    text = TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    return text


class Command(BaseCommand):
    help = "Print the nginx configuration for Bookwell (deploy/nginx.conf, filled in)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--server-name", required=True)
        parser.add_argument("--cert", required=True, help="the TLS certificate chain (PEM)")
        parser.add_argument("--key", required=True, help="its private key (PEM)")
        parser.add_argument(
            "--upstream", action="append", default=[], help="host:port of a `bookwell serve`"
        )
        parser.add_argument("--https-listen", default="443")
        parser.add_argument("--http-listen", default="80")
        parser.add_argument("--prefix", default="/var/lib/nginx", help="nginx's temp files")
        parser.add_argument("--log-dir", default="/var/log/nginx")
        parser.add_argument("--pid-file", default="/run/nginx.pid")

    def handle(self, *args: Any, **o: Any) -> None:
        try:
            text = render(
                server_name=o["server_name"], cert=o["cert"], key=o["key"],
                upstreams=o["upstream"], https_listen=o["https_listen"],
                http_listen=o["http_listen"], prefix=o["prefix"], log_dir=o["log_dir"],
                pid_file=o["pid_file"],
            )  # fmt: skip
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(text, ending="")
