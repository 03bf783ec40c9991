"""The cluster test (issue 11; `make cluster-test`, which `make test` runs).

On this machine's loopback: PostgreSQL (a database and roles made with
deploy/postgres-roles.sql), Redis, two `bookwell serve` processes behind nginx (the
configuration `bookwell nginx_config` renders from deploy/nginx.conf, with TLS), two
`bookwell worker` processes and an SMTP sink. A bounded, seeded random load books,
reschedules and cancels through the API (bookings with Idempotency-Keys), while one app
process and one worker are killed with SIGKILL and started again.

Afterwards it checks, and prints:
- no two live appointments of one staff member overlap;
- every booking the client saw acknowledged exists, at the last time it was moved to;
- every live booking's confirmation reached the SMTP sink (or, moved before it went out, its
  move notice did, the confirmation skipped, never failed), at most one extra per worker kill;
- every booking that failed during a kill, retried with its Idempotency-Key, got its
  appointment, or was told "taken" and provably never booked (no row has its key); moves and
  cancels, which carry no key, may find on retry that the time went or that it was done;
- the audit hash chains verify;
- the API rate limit is one limit across both app processes (Redis).
Exit status 0 only if all hold.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import random
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.deploy.tls import self_signed  # noqa: E402

BOOKWELL = [sys.executable, "-m", "bookwell"]
PG_ADMIN = os.environ.get("BOOKWELL_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BOOKWELL_CLUSTER_REDIS_URL", "redis://127.0.0.1:6379/13")
RETRYABLE = {502, 503, 504}
RATE = 1500  # API requests a minute per token: above what one load client sends


def port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(p: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", p), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {p}") from None
            time.sleep(0.1)


# --- SMTP sink ------------------------------------------------------------------------------


class Sink:
    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[tuple[str, str]] = []  # (recipient, body)
        self.lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                body = envelope.content.decode("utf-8", "replace")
                with sink.lock:
                    for rcpt in envelope.rcpt_tos:
                        sink.messages.append((rcpt.lower(), body))
                return "250 OK"

        self.port = port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


# --- Processes ------------------------------------------------------------------------------


@dataclass
class Cluster:
    tmp: Path
    env: dict[str, str]
    app_ports: list[int]
    https_port: int
    cert: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str) -> None:
        log = (self.tmp / f"{name}.log").open("ab")
        if name.startswith("app"):
            p = self.app_ports[int(name[-1]) - 1]
            for _ in range(50):  # a killed server's workers may still hold the port a moment
                try:
                    with socket.socket() as s:
                        s.bind(("127.0.0.1", p))
                    break
                except OSError:
                    time.sleep(0.1)
            argv = [*BOOKWELL, "serve", "--bind", f"127.0.0.1:{p}", "--workers", "2"]
        else:
            argv = [*BOOKWELL, "worker", "--interval", "0.5"]
        self.procs[name] = subprocess.Popen(
            argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        if name.startswith("app"):
            wait_port(self.app_ports[int(name[-1]) - 1])

    def kill(self, name: str) -> None:
        """SIGKILL: a worker process; an app server with every gunicorn process it has (a
        request in flight dies wherever it is, committed or not)."""
        proc = self.procs[name]
        if name.startswith("app"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def run(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([*BOOKWELL, *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"bookwell {args[0]} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


# --- The API client --------------------------------------------------------------------------


class Api:
    def __init__(self, base: str, token: str, context: ssl.SSLContext) -> None:
        self.base, self.token, self.context = base, token, context

    def call(
        self, method: str, path: str, body: Any = None, key: str | None = None
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        if key:
            headers["Idempotency-Key"] = key
        request = urllib.request.Request(self.base + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw)
            except ValueError:
                return exc.code, None
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return 0, None  # the connection broke: no answer at all


@dataclass
class Tally:
    booked: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {start, email}
    cancelled: set[str] = field(default_factory=set)
    requests: int = 0
    failed_then_retried: int = 0
    retries_succeeded: int = 0
    gave_up: int = 0
    retry_refused: Counter[str] = field(default_factory=Counter)
    retried_keys_taken: list[str] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def with_retries(
    tally: Tally, attempt: Any, success: tuple[int, ...] = (200,), key: str | None = None
) -> tuple[int, Any]:
    """Sends until an answer that is not a broken connection or a gateway error (the same
    request, with the same Idempotency-Key where it has one). A request that failed first
    counts as retried successfully only with a success status."""
    failed = False
    for n in range(12):
        status, body = attempt()
        with tally.lock:
            tally.requests += 1
        if status and status not in RETRYABLE:
            with tally.lock:
                if failed and status in success:
                    tally.retries_succeeded += 1
                elif failed and key and status == 409 and (body or {}).get("code") == "slot_taken":
                    # The first attempt died before it committed, and the time went to someone
                    # else meanwhile: checked afterwards (no appointment has this key).
                    tally.retried_keys_taken.append(key)
                elif failed:
                    tally.retry_refused[f"{status} {(body or {}).get('code')}"] += 1
            return status, body
        if not failed:
            failed = True
            with tally.lock:
                tally.failed_then_retried += 1
        time.sleep(min(2.0, 0.1 * 2**n))
    with tally.lock:
        tally.gave_up += 1
    return 0, None


def _cancelled(api: Api, appointment_id: str) -> bool:
    got, body = api.call("GET", f"/appointments/{appointment_id}")
    return got == 200 and str(body["status"]).startswith("cancelled")


def load(api: Api, rng: random.Random, tally: Tally, times: list[dict[str, Any]], until: float,
         service: int) -> None:  # fmt: skip
    mine: list[str] = []
    while time.monotonic() < until:
        roll = rng.random()
        if roll < 0.6 or not mine:
            slot = rng.choice(times)
            email = f"c{uuid.uuid4().hex[:12]}@example.test"
            status, client = with_retries(
                tally,
                lambda email=email: api.call(
                    "POST", "/clients", {"full_name": "Cluster Client", "email": email},
                    key=None,
                ),
                success=(201, 422),  # (a retry may find the first attempt's record)
            )  # fmt: skip
            if status == 422:  # that address is taken: by the first attempt, when it is ours
                got, found = api.call("GET", f"/clients?q={email}")
                items = found["items"] if got == 200 else []
                client = items[0] if len(items) == 1 else None
                status = 201 if client else status
            if status != 201:
                tally.refused[f"client {status}"] += 1
                continue
            key = str(uuid.uuid4())
            body = {"service": service, "staff": rng.choice(slot["staff"]), "start": slot["start"],
                    "client": client["id"]}  # fmt: skip
            status, made = with_retries(
                tally,
                lambda body=body, key=key: api.call("POST", "/appointments", body, key=key),
                success=(201,),
                key=key,
            )
            if status == 201:
                with tally.lock:
                    tally.booked[made["id"]] = {"start": made["start"], "email": email}
                mine.append(made["id"])
            else:
                with tally.lock:
                    tally.refused[f"book {status}"] += 1
        elif roll < 0.85:
            target = rng.choice(mine)
            slot = rng.choice(times)
            retried_before = tally.failed_then_retried
            status, moved = with_retries(
                tally,
                lambda target=target, slot=slot: api.call(
                    "POST", f"/appointments/{target}/reschedule", {"start": slot["start"]}
                ),
                success=(200, 409),  # (moves carry no key: the time may be gone meanwhile)
            )
            if status == 200:
                with tally.lock:
                    tally.booked[target]["start"] = moved["start"]
            else:
                if tally.failed_then_retried != retried_before:
                    # Refused on a retry: the lost first answer may have moved it. Ask.
                    got, now = api.call("GET", f"/appointments/{target}")
                    if got == 200:
                        with tally.lock:
                            tally.booked[target]["start"] = now["start"]
                with tally.lock:
                    tally.refused[f"move {status}"] += 1
        else:
            target = mine.pop(rng.randrange(len(mine)))
            status, _ = with_retries(
                tally,
                lambda target=target: api.call(
                    "POST", f"/appointments/{target}/cancel", {"reason": "scheduling"}
                ),
                success=(200, 409),  # (a cancel retried may find its first attempt done)
            )
            if status == 200 or (status == 409 and _cancelled(api, target)):
                with tally.lock:
                    tally.cancelled.add(target)
            else:
                with tally.lock:
                    tally.refused[f"cancel {status}"] += 1


# --- The run ---------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    import psycopg
    import redis

    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
        redis.Redis.from_url(REDIS_URL).ping()
    except Exception as exc:
        print(f"cluster test: needs PostgreSQL and Redis on this machine ({type(exc).__name__})")
        return 1 if os.environ.get("CI") == "true" else 0
    nginx = "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "nginx"
    tmp = Path(tempfile.mkdtemp(prefix="bookwell-cluster-"))
    suffix = secrets.token_hex(3)
    owner, app, db = f"bw_cl_owner_{suffix}", f"bw_cl_app_{suffix}", f"bw_cluster_{suffix}"
    base = PG_ADMIN.rsplit("/", 1)[0]
    host = base.split("@", 1)[1]
    subprocess.run(
        ["psql", PG_ADMIN, "-q", "-v", f"owner={owner}", "-v", f"app={app}", "-v", f"db={db}",
         "-f", str(ROOT / "deploy" / "postgres-roles.sql")],
        check=True, capture_output=True,
    )  # fmt: skip
    redis.Redis.from_url(REDIS_URL).flushdb()
    sink = Sink()
    cert, key = self_signed(tmp / "tls")
    app_ports, https_port, http_port = [port(), port()], port(), port()
    master = base64.b64encode(secrets.token_bytes(32)).decode()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOOKWELL_", "DATABASE_"))}
    env.update(
        BOOKWELL_ENV="production",
        BOOKWELL_SECRET_KEY=secrets.token_urlsafe(50),
        BOOKWELL_MASTER_KEYS=f"cluster1:{master}",
        BOOKWELL_ALLOWED_HOSTS="localhost",
        BOOKWELL_BASE_URL=f"https://localhost:{https_port}",
        BOOKWELL_DATA_DIR=str(tmp / "data"),
        DATABASE_URL=f"postgresql://{app}@{host}/{db}",
        DATABASE_OWNER_URL=f"postgresql://{owner}@{host}/{db}",
        BOOKWELL_DB_APP_ROLE=app,
        REDIS_URL=REDIS_URL,
        BOOKWELL_TRUSTED_PROXIES="127.0.0.1/32",
        BOOKWELL_EMAIL_BACKEND="smtp",
        BOOKWELL_EMAIL_HOST="127.0.0.1",
        BOOKWELL_EMAIL_PORT=str(sink.port),
        BOOKWELL_EMAIL_TLS="false",
        BOOKWELL_API_RATE_PER_MINUTE=str(RATE),
        BOOKWELL_METRICS_TOKEN=secrets.token_urlsafe(32),
        # A killed worker's message goes to another worker after this lease (120 s by default).
        BOOKWELL_NOTIFY_LEASE_SECONDS="15",
    )
    cluster = Cluster(tmp, env, app_ports, https_port, cert)
    ok = False
    try:
        run(env, "migrate", "-v0")
        dev = {**env, "BOOKWELL_ENV": "development"}
        run(dev, "demo")
        tokens = [
            run(env, "token", "create", "--clinic", "demo", "--name", f"load {i}",
                "--scopes", "appointments:write", "clients:write", "schedule:read").strip()
            for i in range(args.clients + 1)
        ]  # fmt: skip
        for name in ("app1", "app2", "worker1", "worker2"):
            cluster.start(name)
        (tmp / "nginx-tmp").mkdir()
        conf = tmp / "nginx.conf"
        conf.write_text(
            run(env, "nginx_config", "--server-name", "localhost", "--cert", str(cert),
                "--key", str(key), "--upstream", f"127.0.0.1:{app_ports[0]}",
                "--upstream", f"127.0.0.1:{app_ports[1]}",
                "--https-listen", f"127.0.0.1:{https_port}",
                "--http-listen", f"127.0.0.1:{http_port}", "--prefix", str(tmp / "nginx-tmp"),
                "--log-dir", str(tmp), "--pid-file", str(tmp / "nginx.pid"))
        )  # fmt: skip
        user = "daemon off; user root;" if os.geteuid() == 0 else "daemon off;"
        cluster.procs["nginx"] = subprocess.Popen(
            [nginx, "-c", str(conf), "-p", str(tmp), "-e", str(tmp / "nginx-startup.log"),
             "-g", user], start_new_session=True,
        )  # fmt: skip
        wait_port(https_port)
        context = ssl.create_default_context(cafile=str(cert))
        front = f"https://localhost:{https_port}/api/v1"
        apis = [Api(front, t, context) for t in tokens[:-1]]
        status, services = apis[0].call("GET", "/services")
        service = next(s for s in services["items"] if not s["archived"])
        today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 40 * 86400))
        later = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 46 * 86400))
        status, free = apis[0].call(
            "GET", f"/availability?service={service['id']}&start={today}&end={later}"
        )
        times = [t for t in free["times"] if t["staff"]]
        assert status == 200 and len(times) > 20, (status, len(times))

        tally = Tally()
        kills: list[str] = []
        until = time.monotonic() + args.seconds

        def killer() -> None:
            plan = [(0.25, "app1"), (0.45, "worker1"), (0.65, "app2"), (0.8, "worker2")]
            for share, name in plan:
                time.sleep(max(0.0, until - args.seconds * (1 - share) - time.monotonic()))
                cluster.kill(name)
                kills.append(name)
                time.sleep(1.5)
                cluster.start(name)

        threads = [
            threading.Thread(
                target=load,
                args=(apis[i], random.Random(args.seed + i), tally, times, until, service["id"]),
            )
            for i in range(args.clients)
        ]
        kill_thread = threading.Thread(target=killer)
        started = time.monotonic()
        for t in [*threads, kill_thread]:
            t.start()
        for t in [*threads, kill_thread]:
            t.join()
        elapsed = time.monotonic() - started
        ok = verify(env, tally, sink, kills, elapsed, tokens[-1], app_ports, admin, db, base)
    finally:
        cluster.stop_all()
        sink.stop()
        admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.execute(f'DROP ROLE IF EXISTS "{app}"')
        admin.execute(f'DROP ROLE IF EXISTS "{owner}"')
        admin.close()
    print(f"cluster test: {'PASSED' if ok else 'FAILED'} (logs in {tmp})")
    return 0 if ok else 1


def _probe_limit(
    token: str, app_ports: list[int], failures: list[str], after_window: int = -1
) -> int | None:
    """Sends RATE + 60 requests alternately to both app processes within one window of the
    limit (one after `after_window`); returns how many were let through (None: the window
    ended before it finished)."""
    while time.time() % 60 > 8 or int(time.time() // 60) <= after_window:
        time.sleep(0.5)
    window = int(time.time() // 60)
    allowed = 0
    for n in range(RATE + 60):
        request = urllib.request.Request(
            f"http://127.0.0.1:{app_ports[n % 2]}/api/v1/clinic",
            headers={"Authorization": f"Bearer {token}", "Host": "localhost",
                     "X-Forwarded-Proto": "https"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                allowed += r.status == 200
        except urllib.error.HTTPError as exc:
            if exc.code != 429:
                failures.append(f"rate limit probe answered {exc.code}")
                break
    return allowed if int(time.time() // 60) == window else None


def _one(conn: Any, sql: str) -> int:
    row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def verify(
    env: dict[str, str], tally: Tally, sink: Sink, kills: list[str], elapsed: float,
    limit_token: str, app_ports: list[int], admin: Any, db: str, base: str,
) -> bool:  # fmt: skip
    import psycopg

    failures: list[str] = []
    # The outbox empties: every confirmation the workers owe goes out.
    with psycopg.connect(f"{base}/{db}", autocommit=True) as conn:
        deadline = time.monotonic() + 90
        while True:
            pending = _one(
                conn,
                "SELECT COUNT(*) FROM notifications_delivery WHERE status IN ('pending','sending')"
                " AND kind = 'confirmation'",
            )
            if pending == 0:
                break
            if time.monotonic() > deadline:
                failures.append(f"{pending} confirmations still unsent after 90 s")
                break
            time.sleep(1)
        overlaps = _one(
            conn,
            """SELECT COUNT(*) FROM bookings_appointment a JOIN bookings_appointment b
               ON a.staff_id = b.staff_id AND a.id < b.id
               AND a.block_start < b.block_end AND b.block_start < a.block_end
               WHERE a.status IN ('pending','confirmed','checked_in')
               AND b.status IN ('pending','confirmed','checked_in')
               AND a.overlap_key <> b.overlap_key""",
        )
        failed_confirmations = _one(
            conn,
            "SELECT COUNT(*) FROM notifications_delivery WHERE kind = 'confirmation' "
            "AND status = 'failed'",
        )
        rows = {
            str(r[0]): (r[1], r[2])
            for r in conn.execute("SELECT id, start, status FROM bookings_appointment")
        }
        # A booking retried with its key and told "taken" must not exist under that key.
        lost_keys = (
            _one(
                conn,
                "SELECT COUNT(*) FROM bookings_appointment WHERE idempotency_key = ANY(ARRAY["
                + ",".join(f"'{k}'" for k in tally.retried_keys_taken)
                + "]::text[])",
            )
            if tally.retried_keys_taken
            else 0
        )
    missing = [i for i in tally.booked if i not in rows]
    moved_wrong = [
        i for i, b in tally.booked.items()
        if i in rows and rows[i][0].isoformat().replace("+00:00", "Z") != b["start"].replace(
            "+00:00", "Z")
    ]  # fmt: skip
    live = [i for i in tally.booked if i not in tally.cancelled]
    confirmations = Counter(
        rcpt for rcpt, body in sink.messages if "Your appointment is booked" in body
    )
    # A booking moved before its confirmation went out gets the move notice instead (the
    # confirmation of a time it no longer has is skipped): either tells the client.
    moves = Counter(rcpt for rcpt, body in sink.messages if "Your appointment has moved" in body)
    worker_kills = sum(1 for k in kills if k.startswith("worker"))
    unconfirmed = [
        i for i in live
        if confirmations[tally.booked[i]["email"]] == 0 and moves[tally.booked[i]["email"]] == 0
    ]  # fmt: skip
    duplicates = sum(max(0, confirmations[tally.booked[i]["email"]] - 1) for i in live)
    audit = subprocess.run([*BOOKWELL, "audit", "verify"], env=env, capture_output=True, text=True)

    # One rate limit across both app processes: RATE a minute per token, whichever answers.
    allowed = _probe_limit(limit_token, app_ports, failures)
    if allowed is None:  # it ran into the next window: once more, in a fresh one
        allowed = _probe_limit(limit_token, app_ports, failures, int(time.time() // 60)) or 0

    print(f"  load: {len(tally.booked)} bookings acknowledged, {len(tally.cancelled)} cancelled,"
          f" {tally.requests} requests in {elapsed:.0f} s")  # fmt: skip
    print(f"  kills (SIGKILL, then restarted): {', '.join(kills)}")
    print(f"  refused (expected: times taken meanwhile): {dict(tally.refused)}")
    print(f"  requests that failed during a kill: {tally.failed_then_retried}; succeeded when "
          f"retried: {tally.retries_succeeded}; taken meanwhile (never booked first): "
          f"{len(tally.retried_keys_taken)}; refused otherwise: {dict(tally.retry_refused)}; "
          f"gave up: {tally.gave_up}")  # fmt: skip
    print(f"  overlapping appointments: {overlaps}")
    print(f"  acknowledged bookings missing: {len(missing)}; not at their last time: "
          f"{len(moved_wrong)}")  # fmt: skip
    print(
        f"  live bookings: {len(live)}; without a confirmation: {len(unconfirmed)}; "
        f"duplicate confirmations: {duplicates} (allowed: {worker_kills} worker kills)"
    )
    print(f"  audit chains: {'verify' if audit.returncode == 0 else 'BROKEN'}")
    print(f"  rate limit across both app processes: {allowed} of {RATE + 60} allowed "
          f"(limit {RATE})")  # fmt: skip
    server_errors = {k: n for k, n in tally.refused.items() if k.split()[-1].startswith("5")}
    if server_errors:
        failures.append(f"server errors: {server_errors}")
    if overlaps:
        failures.append("overlapping appointments")
    if missing or moved_wrong:
        failures.append("acknowledged bookings missing or not where they were moved")
    if unconfirmed or failed_confirmations:
        failures.append(f"confirmations missing ({failed_confirmations} failed for good)")
    if duplicates > worker_kills:
        failures.append("more duplicate confirmations than worker kills")
    if tally.gave_up or tally.retry_refused:
        failures.append(f"retried requests that did not succeed: {dict(tally.retry_refused)}")
    if lost_keys:
        failures.append(f"{lost_keys} bookings told 'taken' on retry exist under their key")
    if audit.returncode != 0:
        failures.append("audit chains do not verify:\n" + audit.stdout + audit.stderr)
    if allowed != RATE:
        failures.append(f"the rate limit let {allowed} through, not {RATE}")
    if len(tally.booked) < 20:
        failures.append("too little load to say anything")
    for f in failures:
        print(f"  FAILED: {f}")
    return not failures


if __name__ == "__main__":
    sys.exit(main())
