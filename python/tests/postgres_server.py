"""A real PostgreSQL for the tests: on a free loopback port, stopped by PID.

    with postgres_server() as postgres:
        pool = await asyncpg.create_pool(postgres.dsn)

It runs Debian's PostgreSQL binaries (found on the PATH, else under
``/usr/lib/postgresql/<version>/bin``) on a fresh cluster in a temporary
directory, with durability turned off, and removes the directory when it
stops. The superuser has a password, so that tests can check it never
appears in what they observe. Readiness speaks the protocol over a plain
socket, so the tests that use it need no PostgreSQL client of their own.

PostgreSQL refuses to run as root. Run as root, as CI does, the cluster
belongs to the ``postgres`` account that Debian's package creates, or to
``nobody`` where there is none; otherwise to whoever runs the tests.
"""

from __future__ import annotations

import ctypes
import glob
import os
import pwd
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from servers import free_port

#: The binaries a cluster needs, all from one installation.
BINARIES = ("initdb", "pg_ctl", "postgres")
#: Where Debian installs them, one directory per major version.
DEBIAN_BINARIES = "/usr/lib/postgresql/*/bin"
#: Accounts that may own the cluster when the tests run as root, in order.
ACCOUNTS = ("postgres", "nobody")
USER = "hiccup"
PASSWORD = "not-for-your-eyes-7f3c"
DATABASE = "postgres"
#: How long PostgreSQL may take to accept its first connection, in seconds.
START_TIMEOUT = 30.0
#: How long a fast shutdown may take before the server is stopped at once.
STOP_TIMEOUT = 10.0

_PROTOCOL_3 = 196608
_PR_SET_PDEATHSIG = 1
_ENVIRONMENT = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
# Looked up before any fork: the child may only call it, not load it.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


class PostgresServerError(RuntimeError):
    """Raised when PostgreSQL cannot be found, set up or started."""


@dataclass(frozen=True)
class Account:
    """Who the cluster's processes run as; None fields mean "as we are"."""

    name: str
    uid: int | None = None
    gid: int | None = None


@dataclass
class PostgresServer:
    """A running postmaster and where to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    directory: Path
    binaries: Path
    account: Account

    @property
    def dsn(self) -> str:
        """A libpq URL with the superuser's name and password."""
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def output(self) -> str:
        """What PostgreSQL logged so far."""
        return (self.directory / "postgres.log").read_text(errors="replace")

    def stop(self) -> None:
        """Stop the server by its PID; do nothing if it has stopped already."""
        if self.process.poll() is not None:
            return
        # SIGINT is a fast shutdown: open sessions are ended, not waited for.
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
            return
        except subprocess.TimeoutExpired:
            pass
        _run(
            self.account,
            self.directory,
            [
                str(self.binaries / "pg_ctl"),
                "stop",
                "-m",
                "immediate",
                "-D",
                str(self.data),
            ],
        )
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def find_binaries() -> Path:
    """Return the directory holding ``initdb``, ``pg_ctl`` and ``postgres``.

    Raises:
        PostgresServerError: No installation has all three.
    """
    found = [shutil.which(name) for name in BINARIES]
    if all(found):
        directories = {Path(path).resolve().parent for path in found if path}
        if len(directories) == 1:
            return directories.pop()

    def version(directory: str) -> tuple[int, ...]:
        name = Path(directory).parent.name
        return tuple(int(part) for part in name.split(".") if part.isdigit())

    for directory in sorted(glob.glob(DEBIAN_BINARIES), key=version, reverse=True):
        if all((Path(directory) / name).is_file() for name in BINARIES):
            return Path(directory)
    raise PostgresServerError(
        f"none of the PATH and {DEBIAN_BINARIES} has all of {', '.join(BINARIES)}: "
        "apt-get install postgresql"
    )


def cluster_account() -> Account:
    """Return the account the cluster runs as: ours, unless we are root."""
    if os.geteuid() != 0:
        return Account(pwd.getpwuid(os.geteuid()).pw_name)
    for name in ACCOUNTS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return Account(name, entry.pw_uid, entry.pw_gid)
    raise PostgresServerError(
        f"running as root and none of the accounts {ACCOUNTS!r} exists; "
        "PostgreSQL refuses to run as root"
    )


def _die_with_parent() -> None:
    # Runs in the child between fork and exec, after the switch of account
    # (which would clear it): should the test run be killed before its
    # ``finally``, the kernel sends the postmaster SIGQUIT, an immediate
    # shutdown, rather than leave it running.
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT, 0, 0, 0)


def _run(
    account: Account, directory: Path, command: list[str]
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        command,
        check=False,
        capture_output=True,
        cwd=directory,
        env=_ENVIRONMENT,
        user=account.uid,
        group=account.gid,
        extra_groups=None if account.uid is None else [],
    )


def _initdb(binaries: Path, directory: Path, account: Account) -> None:
    password = directory / "password"
    password.write_text(PASSWORD)
    if account.uid is not None and account.gid is not None:
        os.chown(password, account.uid, account.gid)
    try:
        done = _run(
            account,
            directory,
            [
                str(binaries / "initdb"),
                "--pgdata",
                str(directory / "data"),
                "--username",
                USER,
                "--pwfile",
                str(password),
                "--auth",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            ],
        )
    finally:
        password.unlink()
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode(errors="replace")
        raise PostgresServerError(
            f"initdb as {account.name!r} exited with {done.returncode}: "
            f"{output[-2000:]}"
        )


def _start(
    binaries: Path, directory: Path, account: Account, port: int
) -> subprocess.Popen[bytes]:
    command = [
        str(binaries / "postgres"),
        "-D",
        str(directory / "data"),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-k",
        str(directory),
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
    ]
    with (directory / "postgres.log").open("wb") as log:
        return subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=directory,
            env=_ENVIRONMENT,
            user=account.uid,
            group=account.gid,
            extra_groups=None if account.uid is None else [],
            # Safe with threads: all it does is call a function looked up
            # before the fork, with no lock or allocation of Python's.
            preexec_fn=_die_with_parent if _prctl is not None else None,  # noqa: PLW1509
        )


def accepts_connections(port: int, timeout: float = 2.0) -> bool:
    """Whether the server on ``port`` answers a startup message with an
    authentication request, rather than "starting up" or nothing at all."""
    parameters = f"user\0{USER}\0database\0{DATABASE}\0\0".encode()
    message = struct.pack("!ii", 8 + len(parameters), _PROTOCOL_3) + parameters
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(message)
            kind = sock.recv(1)
    except OSError:
        return False

    return kind == b"R"


def _wait_until_ready(server: PostgresServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise PostgresServerError(
                f"postgres exited with {server.process.returncode}: "
                f"{server.output()[-2000:]}"
            )
        if accepts_connections(server.port):
            return
        time.sleep(0.05)
    raise PostgresServerError(
        f"postgres did not accept connections within {START_TIMEOUT} s: "
        f"{server.output()[-2000:]}"
    )


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Run PostgreSQL on loopback until the block ends, then stop it.

    The cluster lives in a directory of its own under the system's temporary
    directory, which (unlike pytest's, when run as root) the cluster's
    account can reach; it is removed afterwards.

    Raises:
        PostgresServerError: The binaries or a usable account are missing,
            or the server did not start.
    """
    binaries = find_binaries()
    account = cluster_account()
    directory = Path(tempfile.mkdtemp(prefix="hiccup-postgres-"))
    try:
        if account.uid is not None and account.gid is not None:
            os.chown(directory, account.uid, account.gid)
        _initdb(binaries, directory, account)
        port = free_port()
        process = _start(binaries, directory, account, port)
        server = PostgresServer(process, port, directory, binaries, account)
        try:
            _wait_until_ready(server)
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
