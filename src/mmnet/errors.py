"""One line a person can act on, for the errors a run meets that are no bug of ours: a full
disk, a read-only or forbidden path, a file that went away mid-run."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

_FULL = (
    "free space on that file system (or point results/ at another one) and run the same "
    "command again: finished stages are kept, a training resumes"
)
ADVICE = {
    errno.ENOSPC: _FULL,
    errno.EDQUOT: _FULL,
    errno.EROFS: "the file system is read-only: run where results/ can be written",
    errno.EACCES: "make the path writable (or readable) by this user, then run again",
    errno.EPERM: "make the path writable (or readable) by this user, then run again",
    errno.ENOENT: "it is missing (moved or deleted while the run was going?): put it back, "
    "or rerun the stage that writes it",
}
#: Free bytes under which a failed write is taken for a full disk (torch.save's C++ writer
#: reports it as "unexpected pos" without a path or an errno).
NEARLY_FULL = 64 << 20


def explain(error: BaseException) -> str | None:
    """``<path>: <what happened>: <what to do>`` for a known OS error, else None."""
    if not isinstance(error, OSError) or error.errno not in ADVICE:
        return None
    where = error.filename or "(no path given)"
    what = error.strerror or os.strerror(error.errno)
    return f"{where}: {what}: {ADVICE[error.errno]}"


def as_os_error(error: BaseException, path: str | Path) -> BaseException:
    """``error`` from writing ``path``, made into an ``OSError`` that names the path: one
    without a path gets it; a write that failed on a (nearly) full disk becomes ENOSPC."""
    path = Path(path)
    if isinstance(error, OSError) and error.errno is not None:
        if error.filename:
            return error
        return OSError(error.errno, error.strerror or str(error), str(path))
    if "No space left" in str(error) or _free_bytes(path) < NEARLY_FULL:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    return error


def _free_bytes(path: Path) -> int:
    for folder in (path, *path.parents):
        if folder.exists():
            return shutil.disk_usage(folder).free
    return 1 << 62
