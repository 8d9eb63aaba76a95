"""A throwaway PostgreSQL 15 cluster for tests: a temp directory, 127.0.0.1 on a free port, always stopped.

    with start_postgres() as pg:          # initdb + postgres; waits until the app user can connect
        env = pg.env()                    # POSTGRES_HOST/PORT/DB/USER/PASSWORD for distributions/argocd/scale-out.yaml
        pg.query("SELECT count(*) FROM llama_stack_argocd_kv")

The cluster is built as an operator would hand one over: password (SCRAM) authentication on TCP only, a database
owned by an ordinary role (no superuser), UTF-8 with C collation. The binaries come from POSTGRES_BIN_DIR (default
/usr/lib/postgresql/15/bin, Debian's postgresql-15 package). PostgreSQL refuses to run as root, so as root the
cluster runs as the `postgres` account (or `nobody`). The server gets PR_SET_PDEATHSIG: it stops (fast shutdown)
with the test process, and at interpreter exit if a test forgot.
"""

from __future__ import annotations

import atexit
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2

from tests.support.processes import stop_group
from tests.support.scripted_llm import free_port

BIN_DIR = Path(os.environ.get("POSTGRES_BIN_DIR", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "postgres"
_RUNNING: set[PostgresHandle] = set()


@atexit.register
def _stop_leftovers() -> None:
    for handle in list(_RUNNING):
        handle.stop()


def _binary(name: str) -> Path:
    path = BIN_DIR / name
    if not os.access(path, os.X_OK):
        raise RuntimeError(
            f"PostgreSQL server binaries are needed for the scale-out tests: {path} is missing. Install Debian's "
            "postgresql-15 package (apt-get install postgresql-15) or set POSTGRES_BIN_DIR to a directory with "
            "initdb and postgres."
        )
    return path


def _run_as() -> tuple[list[str], pwd.struct_passwd | None]:
    """A command prefix that drops root (initdb and postgres refuse it) and the account it drops to."""
    if os.geteuid() != 0:
        return [], None
    for name in ("postgres", "nobody"):
        try:
            account = pwd.getpwnam(name)
        except KeyError:
            continue
        return [shutil.which("setpriv") or "setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
                "--clear-groups"], account
    raise RuntimeError("running as root with neither a `postgres` nor a `nobody` account to run PostgreSQL as")


@dataclass(eq=False)
class PostgresHandle:
    directory: Path
    port: int = field(default_factory=free_port)
    database: str = "assistant"
    user: str = "assistant"
    # Punctuation on purpose: the distribution's connection settings must carry it (all but '@' and '%').
    password: str = field(default_factory=lambda: f"pw:/?#-{secrets.token_hex(8)}")
    process: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        return self.directory / "postgres.log"

    def env(self) -> dict[str, str]:
        """The scale-out distribution's settings for this cluster."""
        return {"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(self.port), "POSTGRES_DB": self.database,
                "POSTGRES_USER": self.user, "POSTGRES_PASSWORD": self.password}

    def connect(self, user: str | None = None, database: str | None = None) -> Any:
        password = self._superuser_password if user == SUPERUSER else self.password
        connection = psycopg2.connect(host="127.0.0.1", port=self.port, dbname=database or self.database,
                                      user=user or self.user, password=password, connect_timeout=5)
        connection.autocommit = True
        return connection

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows of one statement, run as the application's user."""
        with closing(self.connect()) as connection, connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- life ------------------------------------------------------------------------------------------------

    def start(self, timeout: float = 30) -> PostgresHandle:
        prefix, account = _run_as()
        initdb = _binary("initdb")
        self._superuser_password = secrets.token_hex(16)
        self.directory.mkdir(parents=True, exist_ok=True)
        password_file = self.directory / "superuser-password"
        password_file.write_text(self._superuser_password + "\n")
        self.log_path.touch()
        if account is not None:
            for path in (self.directory, password_file, self.log_path):
                os.chown(path, account.pw_uid, account.pw_gid)
        init = subprocess.run(
            [*prefix, str(initdb), "-D", str(self.data_dir), "-U", SUPERUSER, f"--pwfile={password_file}",
             "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"],
            capture_output=True, text=True, timeout=120, check=False,
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{init.stdout}{init.stderr}")
        self._launch(prefix)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited ({self.process.returncode}):\n{self.log_text()[-3000:]}")
            try:
                with closing(self.connect(user=SUPERUSER, database="postgres")) as admin, admin.cursor() as cursor:
                    cursor.execute(f"CREATE ROLE {self.user} LOGIN PASSWORD %s", (self.password,))
                    cursor.execute(f"CREATE DATABASE {self.database} OWNER {self.user}")
                break
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"postgres did not accept connections in {timeout}s:\n{self.log_text()[-3000:]}")
                time.sleep(0.1)
        return self

    def _launch(self, prefix: list[str]) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the server process, closed in stop()
        self._log = log
        self.process = subprocess.Popen(
            [*prefix, *(["--pdeathsig", "INT"] if prefix else []), str(_binary("postgres")), "-D", str(self.data_dir),
             "-p", str(self.port), "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.directory}",
             "-c", "fsync=off", "-c", "max_connections=200"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        _RUNNING.add(self)

    def restart(self, timeout: float = 30) -> PostgresHandle:
        """Stop the server and start it again on the same data and port (every client connection is cut)."""
        self.stop()
        self._launch(_run_as()[0])
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.query("SELECT 1")
                return self
            except psycopg2.OperationalError:
                if time.monotonic() > deadline or self.process is None or self.process.poll() is not None:
                    raise RuntimeError(f"postgres did not come back:\n{self.log_text()[-3000:]}") from None
                time.sleep(0.1)

    def stop(self, grace: float = 10) -> None:
        """Fast shutdown (SIGINT: sessions are ended, not waited for), SIGKILL after `grace` seconds."""
        stop_group(self.process, signal.SIGINT, grace)
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None
        _RUNNING.discard(self)


@contextmanager
def start_postgres(timeout: float = 30) -> Iterator[PostgresHandle]:
    directory = Path(tempfile.mkdtemp(prefix="postgres-"))
    handle = PostgresHandle(directory=directory)
    try:
        yield handle.start(timeout)
    finally:
        handle.stop()
        shutil.rmtree(directory, ignore_errors=True)
