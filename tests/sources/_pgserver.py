"""A throwaway PostgreSQL server for the tests: initdb + pg_ctl in a temporary directory, listening on
127.0.0.1 on a free port, run as the ``postgres`` user when the tests run as root (the server refuses root)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile


def find_bin() -> str | None:
    """The directory of initdb and pg_ctl: Debian's newest /usr/lib/postgresql/N/bin, or the PATH's."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(os.path.realpath(initdb)) if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``start()`` makes a cluster with a trust-authenticated superuser ``flyte`` and starts it; ``stop()``
    stops it and removes the directory."""

    def __init__(self, bindir: str):
        self.bindir = bindir
        self.root = tempfile.mkdtemp(prefix="flytecodec-pg-")
        self.data = os.path.join(self.root, "data")
        self.port = _free_port()
        self.user = "flyte"
        self._as = []
        if os.geteuid() == 0:
            import pwd

            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, cwd=self.root)

    def start(self) -> None:
        self._run(
            os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", self.user, "--auth=trust", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c full_page_writes=off"
        log = os.path.join(self.root, "server.log")
        self._run(os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-o", options, "-l", log, "-w", "start")

    def url(self, db: str = "postgres", **params: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{db}" + (f"?{query}" if query else "")

    def stop(self) -> None:
        try:
            if os.path.exists(os.path.join(self.data, "postmaster.pid")):
                self._run(os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
