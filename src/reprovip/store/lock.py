"""One runner per store: an exclusive, non-blocking ``flock`` on ``.reprovip/run.lock``."""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

from reprovip.errors import StoreError


class RunLock:
    """Hold the store's run lock for the duration of a ``with`` block.

    The kernel drops the lock when the process dies, so a killed run never leaves a stale lock.
    """

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / "run.lock"
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise StoreError(
                f"{self.path}: another reprovip run is active on this store ({holder}); "
                "wait for it to finish or stop it"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
