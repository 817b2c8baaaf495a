"""An exclusive lock on a cassette path, held by its writer, so that two processes (or two
writers in one) recording the same cassette take turns instead of one silently dropping the
other's interactions at the final rename.

The lock is an OS lock (``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows) on
``<cassette>.lock``, so a process that dies releases it with no stale file to clean up. The lock
file is removed on release; a waiter that then locks a removed file notices (its file is no
longer the one at the path) and tries again.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from streamtape.errors import CassetteError

__all__ = ["DEFAULT_LOCK_TIMEOUT", "CassetteLock"]

DEFAULT_LOCK_TIMEOUT = 60.0
"""Seconds a writer waits for another writer of the same cassette before giving up."""

_POLL = 0.02  # seconds between attempts while another writer holds the lock


def _try_lock(fd: int) -> bool:
    """Take the lock on ``fd`` without waiting; False when another holder has it."""
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)


class CassetteLock:
    """The lock of one cassette path: :meth:`acquire` waits up to ``timeout`` seconds (None:
    for ever, 0: not at all) and raises :class:`CassetteError` naming the path and the holder's
    process id when it cannot get it; :meth:`release` gives it back."""

    def __init__(self, path: str | os.PathLike[str], timeout: float | None) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.timeout = timeout
        self._fd: int | None = None

    def acquire(self) -> None:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o666)
            if _try_lock(fd):
                try:  # the file may have been removed by its last holder as we opened it
                    current = os.stat(self.lock_path)
                except FileNotFoundError:
                    current = None
                mine = os.fstat(fd)
                if current is not None and (current.st_ino, current.st_dev) == (
                    mine.st_ino,
                    mine.st_dev,
                ):
                    os.ftruncate(fd, 0)
                    os.write(fd, str(os.getpid()).encode())
                    self._fd = fd
                    return
                _unlock(fd)
                os.close(fd)
                continue
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            if deadline is not None and time.monotonic() >= deadline:
                raise CassetteError(
                    f"{self.path} is being recorded by another writer (process {holder}, lock "
                    f"{self.lock_path.name}); waited {self.timeout:g} s. Let it finish, or raise "
                    "lock_timeout to wait longer",
                    path=str(self.path),
                )
            time.sleep(_POLL)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            self.lock_path.unlink(missing_ok=True)
        finally:
            _unlock(fd)
            os.close(fd)
