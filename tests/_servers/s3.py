"""A local S3-compatible server for tests: moto's server mode on a free loopback port."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from typing import IO

from tests._servers import free_port

__all__ = ["CREDENTIALS", "s3_available", "s3_server"]

# Dummy credentials: the local server accepts anything, and no real account is touched.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "loopml-test",
    "AWS_SECRET_ACCESS_KEY": "loopml-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def s3_available() -> tuple[bool, str]:
    """Whether moto's server and s3fs are installed (with the reason when not)."""
    for module in ("moto", "flask", "s3fs", "boto3"):
        if importlib.util.find_spec(module) is None:
            return False, f"{module} is not installed (pip install -e '.[dev]')"
    return True, ""


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """Start moto's S3 server in a child process; yields its endpoint URL, stops it on exit."""
    # moto logs every request to stderr: into a file, not a pipe nobody drains (a full pipe
    # blocks the server after a few hundred requests).
    with tempfile.TemporaryFile() as log:
        yield from _serve(log)


def _serve(log: IO[bytes]) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, **CREDENTIALS}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=log,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                log.seek(0)
                err = log.read().decode(errors="replace")
                raise RuntimeError(f"moto server exited at start: {err[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto server did not answer within 30 s") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
