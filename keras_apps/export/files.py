"""Atomic writes and the version folders of a TF Serving base path.

TF Serving polls ``base_path`` and loads every folder whose name is all
digits. Everything here writes beside the target under a name that starts
with a dot and is not all digits, so a server never sees a half-written
version or file, and renames it into place in one step.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import platform
import re
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Iterator

from keras_apps._layout import MAX_VERSION, parse_version

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, names decide
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

TEMP_PREFIX = ".keras-apps-tmp"
OLD_PREFIX = ".keras-apps-old"
NEW_PREFIX = ".keras-apps-new"
"""A working folder or file before its lock is held (see `make_work_dir`)."""
# Where no lock can be taken (a file system without flock), a leftover made
# on another host cannot be checked for a live process; it is removed once it
# is this old. Unlocked staging names are removed after STAGING_SECONDS.
STALE_FOREIGN_SECONDS = 24 * 3600
STAGING_SECONDS = 60

_WORK_DIR_RE = re.compile(
    rf"^(?P<kind>{re.escape(TEMP_PREFIX)}|{re.escape(OLD_PREFIX)}"
    rf"|{re.escape(NEW_PREFIX)})"
    r"(?:-v(?P<version>[0-9]+))?"
    r"-(?P<host>[A-Za-z0-9_.]*)-(?P<pid>[0-9]+)-[0-9a-f]+$"
)


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname())


def work_dir_name(prefix: str, version: int | None = None) -> str:
    """A name for a working folder beside a version: hidden, never all digits.

    For a version moved aside during an overwrite, the name carries that
    version's number. The host and process id in it are for people reading
    the folder; live and dead work are told apart by a lock (`hold_lock`).
    """
    tag = "" if version is None else f"-v{version}"
    return f"{prefix}{tag}-{_host()}-{os.getpid()}-{uuid.uuid4().hex[:12]}"


def hold_lock(path: str) -> int:
    """Takes a shared ``flock`` on a folder or file; returns the descriptor.

    The exporter holds it on its working folder for as long as it works, and
    the kernel drops it when the process ends, however it ends (``kill -9``
    included), so a lock that can be taken marks the work of a dead process.
    A PID or a host name cannot tell that: PIDs are reused, and containers
    share host names while having their own PID namespaces. The lock is on
    the folder itself, so it follows the folder through renames. Close the
    descriptor (`release_lock`) to let go.
    """
    if fcntl is None:  # pragma: no cover - Windows
        raise OSError(errno.ENOTSUP, "no flock on this platform", path)
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
    except OSError:
        os.close(fd)
        raise
    return fd


def release_lock(fd: int | None) -> None:
    """Closes a descriptor from `hold_lock` (``None`` is ignored)."""
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


def is_locked(path: str) -> bool | None:
    """Whether a live process holds `hold_lock` on ``path``.

    ``None`` when this file system cannot say (no ``flock`` support, such as
    some network file systems); the caller then falls back to the name's
    process id and the age.
    """
    if fcntl is None:  # pragma: no cover - Windows
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)
    return False


def make_work_dir(base_path: str, prefix: str = TEMP_PREFIX) -> tuple[str, int]:
    """Creates a locked working folder in ``base_path``; returns (path, fd).

    The folder is made under a staging name, locked, and only then renamed to
    its working name, so no other export ever sees an unlocked working folder
    of a live process. Release the lock with `release_lock(fd)`.
    """
    staging = os.path.join(base_path, work_dir_name(NEW_PREFIX))
    os.mkdir(staging)
    try:
        fd = hold_lock(staging)
    except OSError:
        fd = None  # no flock here: the name's host and pid decide (see above)
    path = os.path.join(base_path, work_dir_name(prefix))
    try:
        os.rename(staging, path)
    except BaseException:
        release_lock(fd)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path, fd  # type: ignore[return-value]


def list_versions(base_path: str) -> list[int]:
    """The versions TF Serving would see in ``base_path``, sorted.

    Only folders named by ASCII digits within int64 count
    (`keras_apps._layout.parse_version`, shared with the server); working
    folders of running or dead exports do not.

    Example:
    >>> import os, tempfile
    >>> from keras_apps.export import list_versions
    >>> base = tempfile.mkdtemp()
    >>> for name in ("1", "10", "2", ".keras-apps-tmp-host-1-ab", "notes"):
    ...     os.makedirs(os.path.join(base, name))
    >>> list_versions(base)
    [1, 2, 10]
    """
    if not os.path.isdir(base_path):
        return []
    versions = []
    for entry in os.scandir(base_path):
        version = parse_version(entry.name)
        if version is not None and entry.is_dir():
            versions.append(version)
    return sorted(versions)


def next_version(base_path: str) -> int:
    """One more than the highest version in ``base_path``, or 1.

    Raises:
        ValueError: If the highest version is already `_layout.MAX_VERSION`
            (int64's largest, TF Serving's version type).
    """
    versions = list_versions(base_path)
    if versions and versions[-1] >= MAX_VERSION:
        raise ValueError(
            f"{base_path!r} holds version {versions[-1]}, the largest version TF "
            "Serving can serve (int64), so there is no next one. Pass an "
            "explicit free `version`, or remove that folder."
        )
    return versions[-1] + 1 if versions else 1


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_work_dirs(base_path: str) -> list[str]:
    """Removes working folders left behind by exports that died.

    A working folder is stale when no process holds its lock (`hold_lock`):
    the exporter that made it is gone, whatever its PID or host. A version
    that a dead overwrite had moved aside and not replaced is put back.
    Returns the paths removed or restored.
    """
    removed: list[str] = []
    if not os.path.isdir(base_path):
        return removed
    for entry in os.scandir(base_path):
        match = _WORK_DIR_RE.match(entry.name)
        if match is None:
            continue
        try:
            stale = _is_stale(entry.path, entry.name, entry.stat().st_mtime)
        except OSError:
            continue
        if not stale:
            continue
        version = match["version"]
        restore = os.path.join(base_path, version) if version else None
        if restore and match["kind"] == OLD_PREFIX and not os.path.lexists(restore):
            # The export died between moving the old version aside and moving
            # the new one in: put the old one back rather than lose it.
            os.rename(entry.path, restore)
            logger.warning("Restored version %s of a dead overwrite", version)
            removed.append(entry.path)
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.remove(entry.path)
        logger.info("Removed the leftover of a dead export: %s", entry.path)
        removed.append(entry.path)
    return removed


def _is_stale(path: str, name: str, mtime: float) -> bool:
    match = _WORK_DIR_RE.match(name)
    if match is None:
        return False
    age = time.time() - mtime
    if match["kind"] == NEW_PREFIX:
        # Not locked yet, or never: only the exporter that made it knows.
        return age > STAGING_SECONDS and not is_locked(path)
    locked = is_locked(path)
    if locked is not None:
        return not locked
    if match["host"] == _host():
        return not _process_alive(int(match["pid"]))
    return age > STALE_FOREIGN_SECONDS


def _clean_stale_temp_files(directory: str, prefix: str) -> None:
    """Removes temporary files of `atomic_output_file` calls that died."""
    for entry in os.scandir(directory):
        if not entry.name.startswith(prefix) or not entry.is_file():
            continue
        with contextlib.suppress(OSError):
            name = entry.name[len(prefix) :]
            if _is_stale(entry.path, name, entry.stat().st_mtime):
                os.remove(entry.path)
                logger.info("Removed the leftover of a dead write: %s", entry.path)


_RENAME_EXCHANGE = 2  # linux/fs.h
_RENAME_SWAP = 2  # macOS sys/stdio.h
_AT_FDCWD = -100
# renameat2's syscall number, for a C library that lacks the wrapper (glibc
# before 2.28, some musl builds).
_SYS_RENAMEAT2 = {"x86_64": 316, "aarch64": 276, "arm64": 276}


def exchange_paths(first: str, second: str) -> bool:
    """Swaps two existing paths in one atomic step; ``False`` when unsupported.

    Linux's ``renameat2(..., RENAME_EXCHANGE)`` or macOS's ``renamex_np(...,
    RENAME_SWAP)``: at every instant both names exist, each naming one of the
    two folders, so replacing a published version this way never leaves it
    missing, not even when the process is killed. ``os.rename`` cannot do it
    (it refuses to replace a non-empty folder), and two renames leave a
    window in which the name is absent.

    Returns ``False``, having changed nothing, where the OS or the file system
    has no atomic exchange (Windows, a Linux kernel before 3.15, a file system
    without support, such as some network ones); the exporter then refuses to
    overwrite.

    Raises:
        OSError: For other failures (a missing path, permissions).
    """
    encoded = [os.fsencode(p) for p in (first, second)]
    if sys.platform == "darwin":
        # macOS 10.12+: renamex_np(from, to, RENAME_SWAP) on APFS and HFS+.
        libc = ctypes.CDLL(None, use_errno=True)
        swap = getattr(libc, "renamex_np", None)
        if swap is None:
            return False
        result = swap(encoded[0], encoded[1], ctypes.c_uint(_RENAME_SWAP))
    elif not sys.platform.startswith("linux"):
        return False
    else:
        libc = ctypes.CDLL(None, use_errno=True)
        result = _renameat2_exchange(libc, encoded)
    if result == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(error, os.strerror(error), first, None, second)


def _renameat2_exchange(libc: ctypes.CDLL, encoded: list[bytes]) -> int:
    if hasattr(libc, "renameat2"):
        return int(
            libc.renameat2(
                _AT_FDCWD, encoded[0], _AT_FDCWD, encoded[1], _RENAME_EXCHANGE
            )
        )
    number = _SYS_RENAMEAT2.get(platform.machine())
    if number is None:
        ctypes.set_errno(errno.ENOSYS)
        return -1
    return int(
        libc.syscall(
            ctypes.c_long(number),
            ctypes.c_int(_AT_FDCWD),
            ctypes.c_char_p(encoded[0]),
            ctypes.c_int(_AT_FDCWD),
            ctypes.c_char_p(encoded[1]),
            ctypes.c_uint(_RENAME_EXCHANGE),
        )
    )


def fsync_tree(path: str) -> None:
    """Flushes every file under ``path`` and the folders themselves to disk."""
    for root, _, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(root)


def fsync_dir(path: str) -> None:
    """Flushes a folder entry (after a rename in it) where the OS allows it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output_file(path: str, mode: str = "w") -> Iterator[object]:
    """Opens a temporary file beside ``path``; renames it onto ``path`` on success.

    On any error the temporary file is removed and ``path`` keeps its old
    content (or stays absent), so no reader ever sees half a file.

    Args:
        path: The final file path.
        mode: ``"w"`` for text or ``"wb"`` for bytes.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"Expected mode 'w' or 'wb'. Received: mode={mode!r}")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"The folder of the output file does not exist: {directory!r}. "
            "Create it first."
        )
    prefix = f".{os.path.basename(path)}."
    _clean_stale_temp_files(directory, prefix)
    # Created under a staging name, locked (the lock tells later writers that
    # this one is alive), then given its working name.
    staging = os.path.join(directory, prefix + work_dir_name(NEW_PREFIX))
    temp_path = os.path.join(directory, prefix + work_dir_name(TEMP_PREFIX))
    encoding = "utf-8" if mode == "w" else None
    try:
        with open(staging, mode, encoding=encoding) as handle:
            if fcntl is not None:
                with contextlib.suppress(OSError):
                    fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
            os.rename(staging, temp_path)
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_path, path)
    except BaseException:
        for leftover in (staging, temp_path):
            with contextlib.suppress(OSError):
                os.remove(leftover)
        raise
    fsync_dir(directory)


def atomic_write_text(path: str, text: str) -> None:
    """Writes ``text`` to ``path`` through a temporary file and ``os.replace``."""
    with atomic_output_file(path, "w") as handle:
        handle.write(text)  # type: ignore[attr-defined]
