"""A real, throwaway PostgreSQL cluster for tests.

``postgres_cluster(base_dir)`` runs ``initdb`` into a fresh directory, starts a server
that listens only on 127.0.0.1 at a free port, creates the ``loopml_test`` database and
yields its SQLAlchemy URL. On exit the server is stopped at once and its files deleted.

The cluster is tuned for speed, not safety (no fsync, no full-page writes): it lives for
one test session and its data are never needed again.

PostgreSQL refuses to run as root, so when the tests run as root the server binaries run
as the ``postgres`` system user, in a directory under the system temp folder that this
user can reach (a pytest ``tmp_path`` may sit under a root-only folder, and a long path
would not fit the 107-byte limit of a unix-socket name either).

Set ``LOOPML_TEST_POSTGRES_URL`` to use a server of your own instead: it is yielded
unchanged and nothing is started.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests._servers import free_port

__all__ = [
    "DATABASE",
    "ENV_URL",
    "SUPERUSER",
    "find_bindir",
    "postgres_available",
    "postgres_cluster",
]

ENV_URL = "LOOPML_TEST_POSTGRES_URL"
"""Environment variable naming an existing server to use instead of a throwaway one."""

SUPERUSER = "loopml"
"""Name of the superuser role that ``initdb`` creates; it logs in without a password."""

DATABASE = "loopml_test"
"""Name of the database created in the cluster and named in the yielded URL."""

_SYSTEM_USER = "postgres"
_START_ATTEMPTS = 3
_LOG_TAIL_LINES = 40

# Throwaway server: durability is worthless here, start-up and test speed are not.
_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


def find_bindir() -> Path | None:
    """Find the folder holding the PostgreSQL server programs ``initdb`` and ``pg_ctl``.

    Looks at ``pg_config --bindir``, then the newest ``/usr/lib/postgresql/*/bin``, then
    ``PATH``. ``pg_config`` alone is not enough: on Debian the client headers package
    ships one that names a folder without the server programs.

    Returns:
        The folder, or None when no folder holds both programs.
    """
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
                stdin=subprocess.DEVNULL,
            )
            candidates.append(Path(out.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def postgres_available() -> tuple[bool, str]:
    """Tell whether ``postgres_cluster`` can run here, and why not when it cannot.

    Returns:
        ``(True, description)`` when a cluster can be started (or ``LOOPML_TEST_POSTGRES_URL``
        names one), else ``(False, reason)`` with what to install or set.
    """
    if os.environ.get(ENV_URL):
        return True, f"using the server named by {ENV_URL}"
    bindir = find_bindir()
    if bindir is None:
        return False, (
            "PostgreSQL server programs (initdb, pg_ctl) not found; install them with "
            f"scripts/install-system-deps.sh or set {ENV_URL}"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(_SYSTEM_USER)
        except KeyError:
            return False, (
                f"running as root, and PostgreSQL refuses root, but there is no "
                f"'{_SYSTEM_USER}' system user to run it as; create one or set {ENV_URL}"
            )
        if not (shutil.which("runuser") or shutil.which("su")):
            return False, "running as root, and neither runuser nor su is there to drop root"
    return True, f"PostgreSQL programs in {bindir}"


@contextlib.contextmanager
def postgres_cluster(base_dir: Path) -> Iterator[str]:
    """Run a fresh PostgreSQL cluster for the duration of the ``with`` block.

    Args:
        base_dir: Folder that receives a copy of the server log (``postgres.log``) when the
            cluster stops, for reading after a failed test. Created if missing.

    Yields:
        ``postgresql+psycopg://loopml@127.0.0.1:PORT/loopml_test``, or the value of
        ``LOOPML_TEST_POSTGRES_URL`` unchanged when it is set.

    Raises:
        RuntimeError: The programs are missing, or the cluster could not be created or
            started; the message ends with the tail of the server log.
    """
    external = os.environ.get(ENV_URL)
    if external:
        yield external
        return
    ok, reason = postgres_available()
    if not ok:
        raise RuntimeError(reason)
    bindir = find_bindir()
    assert bindir is not None  # postgres_available() checked it
    cluster = _Cluster(bindir)
    try:
        cluster.start()
        yield cluster.url
    finally:
        cluster.stop_and_remove(base_dir)


class _Cluster:
    """One cluster's folder, server process and the commands that drive them."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.as_root = os.geteuid() == 0
        # /tmp is world-traversable, unlike a root-only TMPDIR the postgres user can't enter.
        parent = "/tmp" if self.as_root and os.path.isdir("/tmp") else None
        self.home = Path(tempfile.mkdtemp(prefix="loopml-pg-", dir=parent))
        if self.as_root:
            try:
                user = pwd.getpwnam(_SYSTEM_USER)
                os.chown(self.home, user.pw_uid, user.pw_gid)
            except (KeyError, OSError):
                shutil.rmtree(self.home, ignore_errors=True)
                raise
        self.data = self.home / "data"
        self.log = self.home / "server.log"
        self.port = 0
        self.started = False

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    def start(self) -> None:
        self._run(
            "initdb",
            "-D", str(self.data),
            "-A", "trust",
            "-U", SUPERUSER,
            "--no-sync",
            "-E", "UTF8",
            "--locale=C",
            timeout=120,
        )  # fmt: skip
        settings = dict(_SETTINGS, unix_socket_directories=f"'{self.home}'")
        # Appending keeps the file's owner, so the server (maybe another user) can read it.
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# throwaway test cluster\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        for attempt in range(1, _START_ATTEMPTS + 1):
            # Another process may take the port between the probe and the server's bind.
            self.port = free_port()
            try:
                self._run(
                    "pg_ctl",
                    "-D", str(self.data),
                    "-l", str(self.log),
                    "-o", f"-p {self.port}",
                    "-w", "-t", "60",
                    "start",
                    timeout=90,
                )  # fmt: skip
            except RuntimeError:
                if attempt < _START_ATTEMPTS and "could not bind" in self._log_tail():
                    continue
                raise
            break
        self.started = True
        self._create_database()

    def stop_and_remove(self, base_dir: Path) -> None:
        try:
            # A start that timed out may still have left a server running.
            if self.started or (self.data / "postmaster.pid").exists():
                self._stop()
        finally:
            with contextlib.suppress(OSError):
                base_dir.mkdir(parents=True, exist_ok=True)
                if self.log.exists():
                    shutil.copyfile(self.log, base_dir / "postgres.log")
            shutil.rmtree(self.home, ignore_errors=True)

    def _stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop")
        except RuntimeError:
            # pg_ctl could not stop it: end the postmaster we started, by its recorded pid.
            with contextlib.suppress(OSError, ValueError, IndexError):
                pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
                os.kill(pid, signal.SIGKILL)

    def _create_database(self) -> None:
        import psycopg  # only the tests that start a cluster pay for this import

        try:
            with psycopg.connect(
                host="127.0.0.1",
                port=self.port,
                user=SUPERUSER,
                dbname="postgres",
                autocommit=True,
                connect_timeout=30,
            ) as conn:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')
        except psycopg.Error as exc:
            raise RuntimeError(
                f"PostgreSQL started on port {self.port} but creating database "
                f"{DATABASE} failed: {exc}\n{self._log_tail()}"
            ) from exc

    def _run(self, program: str, *args: str, timeout: float = 60) -> None:
        command = [str(self.bindir / program), *args]
        if self.as_root:
            runuser = shutil.which("runuser")
            if runuser:
                command = [runuser, "-u", _SYSTEM_USER, "--", *command]
            else:
                command = ["su", "-s", "/bin/sh", _SYSTEM_USER, "-c", shlex.join(command)]
        try:
            result = subprocess.run(
                command,
                cwd=self.home,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"{program} failed: {exc}\n{self._log_tail()}") from exc
        if result.returncode != 0:
            raise RuntimeError(
                f"{program} exited with status {result.returncode}:\n"
                f"{result.stdout}{result.stderr}\n{self._log_tail()}"
            )

    def _log_tail(self) -> str:
        try:
            lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return "(no server log)"
        return "server log (tail):\n" + "\n".join(lines[-_LOG_TAIL_LINES:])


def _version_key(bindir: Path) -> tuple[int, ...]:
    parts = bindir.parent.name.split(".")
    return tuple(int(part) if part.isdigit() else -1 for part in parts)
