"""Atomic output: nothing half-written, nothing overwritten without being asked.

Every command writes into a temporary sibling of its final path and renames it into place
only when the work succeeded, so an interrupted or failed run leaves the user's files as
they were.

Example::

    with atomic_dir("out/seq", overwrite=False) as tmp:
        (tmp / "sequence.png").write_bytes(png)
    # out/seq now exists, complete; on an exception it does not exist at all.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import fcntl
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from seegaan.errors import OptionError, OutputExistsError, OutputLockedError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output(path: str | os.PathLike, overwrite: bool) -> Path:
    """Fail early (before any work) if ``path`` exists without ``overwrite``, or cannot be written."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path}: already exists (pass --overwrite to replace it)")
    parent = path.absolute().parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise OptionError(f"{path}: cannot write here ({probe} is not a writable directory)")
    return path


# -- locks and leftovers ------------------------------------------------------------------
# One seegaan process at a time may write a given output. The lock is an flock on a sibling
# file ``.NAME.lock`` that also records the holder's pid (for the message): the kernel
# releases it when the holder dies, even by kill -9, so a lock can never go stale.
_HELD: dict[str, tuple[int, int]] = {}   # lock path -> (fd, depth): re-entrant per process


def _lock_path(path: Path) -> Path:
    # realpath: two spellings of one output (``out``, ``./x/../out``) share one lock entry.
    return Path(os.path.realpath(path.absolute().parent)) / f".{path.name}.lock"


@contextlib.contextmanager
def output_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold the write lock of ``path`` for the block; refuse (one line) if another run holds it.

    Re-entrant within a process, so a command may take it early and :func:`atomic_dir`
    take it again at the end. Example::

        with output_lock("seq/ahf"):
            ...   # a second `seegaan sequence --out seq/ahf` now fails naming this pid
    """
    lock = _lock_path(Path(path))
    key = str(lock)
    if key in _HELD:
        fd, depth = _HELD[key]
        _HELD[key] = (fd, depth + 1)
        try:
            yield
        finally:
            fd, depth = _HELD[key]
            _HELD[key] = (fd, depth - 1)
        return
    # Folders made here for the lock are removed again if the run leaves them empty.
    made = [p for p in [lock.parent, *lock.parent.parents] if not p.exists()]
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise OutputLockedError(f"{path}: in use by another seegaan run (pid {holder}); "
                                    "wait for it to finish or choose another output") from None
        # The previous holder may have unlinked the file between our open and our lock:
        # then we locked an orphan inode and must start again on the current file.
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    _HELD[key] = (fd, 1)
    try:
        yield
    finally:
        del _HELD[key]
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)
        for folder in made:  # deepest first
            try:
                folder.rmdir()
            except OSError:
                break


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _temp_prefix(path: Path) -> str:
    # The pid in the name lets a later run tell a dead run's leftovers from a live one's.
    return f".{path.name}.{os.getpid()}."


def clean_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove ``.NAME.PID.*.tmp`` leftovers of ``path`` whose owner process is gone.

    A run killed with -9 cannot clean up after itself; the next run on the same output does.
    Leftovers of a live process (including this one) are kept. Returns what was removed.
    """
    path = Path(path)
    parent = path.absolute().parent
    if not parent.is_dir():
        return []
    removed = []
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(\d+)\.(.*\.tmp|old)$")
    for entry in parent.iterdir():
        m = pattern.match(entry.name)
        if not m or _pid_alive(int(m.group(1))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _rename_noreplace(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst``, failing (never replacing) if ``dst`` exists, even if it
    appeared a moment ago: ``os.rename`` would silently replace an empty directory."""
    if _renameat2 is not None:
        AT_FDCWD, RENAME_NOREPLACE = -100, 1
        if _renameat2(AT_FDCWD, os.fsencode(src), AT_FDCWD, os.fsencode(dst),
                      RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err == errno.EEXIST:
            raise OutputExistsError(f"{dst}: appeared during the run; not replaced (pass "
                                    "--overwrite to replace it)")
        if err not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(err, os.strerror(err), str(dst))
    # No atomic no-replace rename here (old kernel, other OS, some file systems): the lock
    # keeps other seegaan runs out, so only a concurrent non-seegaan writer can race this.
    if os.path.lexists(dst):
        raise OutputExistsError(f"{dst}: appeared during the run; not replaced (pass "
                                "--overwrite to replace it)")
    os.rename(src, dst)


def _load_renameat2():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_renameat2 = _load_renameat2()


def _public_modes(root: Path) -> None:
    """Give files that a writer made private (0600, e.g. ``safetensors.save_file``) the
    mode the umask gives every other file, so a shared run directory stays readable."""
    want = 0o666 & ~_umask()
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600 != want:
                os.chmod(p, want)


def check_not_input(out: str | os.PathLike, inputs: Iterable[str | os.PathLike | None],
                    option: str = "--out") -> None:
    """Refuse an output that is, or contains, one of the inputs (it would destroy it)."""
    out_r = Path(out).resolve()
    for item in inputs:
        if item is None or str(item) == "" or not os.path.lexists(item):
            continue  # not a path (txrv:NAME, package.module:factory), or nothing to destroy
        inp = Path(item).resolve()
        if out_r == inp:
            raise OptionError(f"{option} {out}: is an input of this command; choose another path")
        if out_r in inp.parents:
            raise OptionError(f"{option} {out}: contains the input {item}; choose another path")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``path`` only if the block succeeds.

    The final rename never replaces anything unless ``overwrite``: a folder that appeared at
    ``path`` during the run is kept and the run fails. Another seegaan run writing the same
    ``path`` is refused (:func:`output_lock`), and a dead run's temporary folders are removed.
    """
    path = check_output(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(path):
        clean_stale_temps(path)
        tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent))
        # mkdtemp makes a private (0700) directory; the final output should get the user's
        # usual permissions, as if created with mkdir.
        os.chmod(tmp, 0o777 & ~_umask())
        try:
            yield tmp
            _public_modes(tmp)
            if overwrite and os.path.lexists(path):
                # Move the old output aside first so that a crash between the two renames
                # never leaves the user with neither version.
                old = path.with_name(f".{path.name}.{os.getpid()}.old")
                os.replace(path, old)
                os.replace(tmp, path)
                if old.is_dir() and not old.is_symlink():
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    old.unlink(missing_ok=True)
            else:
                _rename_noreplace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, overwrite: bool = True, mode: str = "wb") -> Iterator[Any]:
    """Open a temporary file that replaces ``path`` (via rename) when the block succeeds."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path}: already exists (pass --overwrite to replace it)")
    tmp = atomic_temp_path(path)
    try:
        with open(tmp, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_temp_path(path: str | os.PathLike) -> Path:
    """A temporary sibling path for writers that need a file name (e.g. ``safetensors.save_file``).

    Call ``os.replace(tmp, path)`` when done; then :func:`fix_mode` if the writer ignored
    the umask.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())
    return Path(tmp)


def fix_mode(path: str | os.PathLike) -> None:
    """Give a file the mode ``open()`` would have (0666 minus the umask).

    Some writers (``safetensors.save_file``) create 0600 files whatever the umask, which
    makes a shared run directory unreadable to the rest of the group.
    """
    os.chmod(path, 0o666 & ~_umask())


def _default(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` (dataclasses, paths and numpy values allowed) as indented JSON, atomically."""
    text = json.dumps(obj, indent=2, default=_default, sort_keys=False) + "\n"
    with atomic_file(path, mode="w") as fh:
        fh.write(text)


def read_json(path: str | os.PathLike) -> Any:
    """Read JSON, turning a missing or malformed file into a one-line :class:`InputError`."""
    from seegaan.errors import InputError

    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
