"""A real PostgreSQL server for tests: a throwaway cluster in a temp folder.

`postgres_server` (session-scoped, so one cluster per xdist worker) runs Debian's
PostgreSQL binaries as an unprivileged user: initdb into a fresh folder, then `postgres`
on 127.0.0.1 with a port the OS chose and its socket in that folder; it stops the server
and removes the folder when the session ends. `postgres_url` gives each test its own
empty schema in that cluster (cheap, unlike a database per test), as a SQLAlchemy URL:

    def test_it(postgres_url):
        with Store(postgres_url) as store: ...

Without PostgreSQL installed, the tests that ask for it are skipped and say why.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from tests.smtpserver import free_port

# Debian installs each major version under its own folder; the newest wins.
_DEBIAN_BINARIES = Path("/usr/lib/postgresql")
# Root cannot run PostgreSQL: the server refuses, by design. Debian has `nobody`; where it
# is missing, a system user of our own is made.
UNPRIVILEGED_USER = "nobody"
OWN_USER = "digest-pg"
SUPERUSER = "digest"
# A test cluster holds nothing worth a flush to disk.
_FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


def postgres_binaries() -> Path | None:
    """The folder of initdb and postgres, or None when PostgreSQL is not installed."""
    found = [
        folder / "bin"
        for folder in _DEBIAN_BINARIES.glob("*")
        if (folder / "bin" / "initdb").is_file() and (folder / "bin" / "postgres").is_file()
    ]
    if found:
        return max(found, key=lambda folder: _major(folder.parent.name))
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _major(name: str) -> int:
    return int(name) if name.isdigit() else 0


@dataclass
class PostgresServer:
    """One PostgreSQL cluster in `folder`, listening on 127.0.0.1:`port`."""

    binaries: Path
    folder: Path
    port: int = 0
    durable: bool = False  # fsync and full-page writes on, as in production (benchmarks)
    _process: subprocess.Popen[bytes] | None = None

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres", **query: str) -> str:
        """A SQLAlchemy URL of one of the cluster's databases, with psycopg 3."""
        tail = "&".join(f"{key}={value}" for key, value in query.items())
        address = f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"
        return f"{address}?{tail}" if tail else address

    def start(self) -> None:
        """initdb, then the server; on failure, nothing is left running or on disk."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self._as_owner(
            [
                str(self.binaries / "initdb"),
                *("-D", str(self.data), "-U", SUPERUSER, "-A", "trust"),
                *("-E", "UTF8", "--no-locale", "--no-sync"),
            ]
        )
        self.port = free_port()
        settings = [] if self.durable else list(_FAST_SETTINGS)
        command = [
            str(self.binaries / "postgres"),
            *("-D", str(self.data), "-p", str(self.port), "-h", "127.0.0.1"),
            *("-k", str(self.folder)),
            *(part for setting in settings for part in ("-c", setting)),
        ]
        with (self.folder / "server.log").open("wb") as log:
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, **_unprivileged()
            )
        self._wait_ready()

    def _as_owner(self, command: list[str]) -> None:
        done = subprocess.run(command, capture_output=True, **_unprivileged())
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {done.stderr.decode(errors='replace')}")

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        ready = [str(self.binaries / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"postgres exited at start:\n{self.log()}")
            if subprocess.run(ready, check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"postgres did not accept connections in {timeout:.0f}s:\n{self.log()}")

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """A fast shutdown (SIGINT: sessions ended, no waiting for clients), then the folder."""
        if self._process is not None:
            self._process.send_signal(2)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def execute(self, sql: str) -> None:
        """Run `sql` in the maintenance database (CREATE SCHEMA ...), autocommitted."""
        import psycopg

        conninfo = f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres"
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(sql.encode())

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _server_user() -> pwd.struct_passwd:
    for name in (UNPRIVILEGED_USER, OWN_USER):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    command = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
    subprocess.run([*command, OWN_USER], check=True, capture_output=True)
    return pwd.getpwnam(OWN_USER)


def _unprivileged() -> dict[str, Any]:
    """Popen options that drop root for the server's user; nothing when not root."""
    if os.geteuid() != 0:
        return {}
    user = _server_user()
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


MISSING = "PostgreSQL is not installed (apt-get install postgresql; .ci/run does)"


def server_in_temp_folder(*, durable: bool = False) -> PostgresServer | None:
    """A cluster in a new temp folder, not yet started; None when PostgreSQL is missing.
    The folder is outside pytest's (root-only) temp tree, so that the unprivileged user
    can reach it."""
    binaries = postgres_binaries()
    if binaries is None:
        return None
    folder = Path(tempfile.mkdtemp(prefix="digest-pg-"))
    if os.geteuid() == 0:
        user = _server_user()
        os.chown(folder, user.pw_uid, user.pw_gid)
    return PostgresServer(binaries, folder, durable=durable)


def new_server(*, durable: bool = False) -> PostgresServer:
    """`server_in_temp_folder`, or the test skipped with the reason."""
    server = server_in_temp_folder(durable=durable)
    if server is None:
        pytest.skip(MISSING)
    return server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One running cluster for this test process (each xdist worker starts its own)."""
    with new_server() as server:
        yield server


_schemas = count(1)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A URL whose connections see only a new, empty schema of the session's cluster."""
    schema = f"test_{os.getpid()}_{next(_schemas)}"
    postgres_server.execute(f"CREATE SCHEMA {schema}")
    yield postgres_server.url(options=f"-csearch_path%3D{schema}")
    postgres_server.execute(f"DROP SCHEMA {schema} CASCADE")


def database_url(request: pytest.FixtureRequest, folder: Path) -> str:
    """The URL of a new database on the backend a test is parametrized with ("sqlite", a
    file in `folder`, or "postgresql", a new schema of the session's cluster)."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{folder / 'digest.db'}"
