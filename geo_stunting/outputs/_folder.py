"""An output folder that always holds one run's complete set of files.

`OutputFolder` is how every run writes its outputs:

* **checked first** (`check_output_folder`, before the analysis starts): the
  folder must not be a file, must not hold (or be) an input of the study,
  must not hold files geo_stunting did not write, its parent must be
  writable and have room;
* **locked**: a second run into the same folder stops at once with a message
  naming the first (process id, start time, command), instead of mixing
  files; the lock is an ``flock`` on ``.<name>.geo_stunting.lock`` beside the
  folder, released (and the file removed) when the run ends, and released by
  the kernel if the process dies;
* **built whole, then swapped in**: every file is written into a staging
  folder beside the output folder, ``.<name>.geo_stunting-<token>.partial``;
  when all are complete, the old folder is renamed away, the staging folder
  renamed into its place, and the old one deleted — so nothing an earlier run
  left stays behind, and a crash or a signal at any moment leaves either the
  old folder or the new one, never a mix. SIGINT and SIGTERM are held back
  during the two renames. Leftovers of a killed run (a ``.partial`` folder,
  or an ``.old`` folder when the kill fell between the renames) are cleaned
  up, or put back, by the next run into that folder.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import secrets
import shutil
import signal
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from geo_stunting.errors import GeoStuntingError, Problem

if TYPE_CHECKING:
    from geo_stunting.study._config import StudyConfig

__all__ = [
    "KNOWN_OUTPUTS",
    "OUTPUT_FILES",
    "PUBLIC_FILES",
    "OutputFolder",
    "OutputFolderError",
    "check_output_folder",
    "exchange",
    "explain_write_error",
    "input_paths",
    "output_folder",
]

#: Every file a run writes (besides the risk-factor CSVs, which depend on the study).
OUTPUT_FILES = (
    "results.json",
    "layers.gpkg",
    "map.html",
    "report.html",
    "rejects.csv",
    "run.json",
    "layers.qgz",
    "tables.xlsx",
    "map.pdf",
    "map.png",
    "map_access.png",
    "map_clusters.png",
)
#: Written with ``public=``: safe to share (masked points, no names or ids).
PUBLIC_FILES = (
    "public/map.html",
    "public/layers.gpkg",
    "public/layers.qgz",
    "public/map.pdf",
    "public/map.png",
    "public/map_access.png",
    "public/map_clusters.png",
)
#: Names a geo_stunting output folder may hold (run.json without a file list: older versions).
KNOWN_OUTPUTS = (*OUTPUT_FILES, "public", "subjects_access", "rejects")
_KNOWN_PREFIXES = ("risk_factors_",)
#: Free space wanted beyond the estimate of the outputs' size.
MIN_FREE_BYTES = 50 * 1024 * 1024
#: Bytes of output per subject beyond the fixed part: about 1 KB in layers.gpkg (a point in
#: several layers, nearest lines) and 150 B in map.html, ×3 for margin.
BYTES_PER_SUBJECT = 4_000


class OutputFolderError(GeoStuntingError):
    """The output folder cannot take this run's outputs (checked before the analysis)."""


def _lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.geo_stunting.lock"


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def _entries_not_ours(out: Path) -> list[str]:
    """Top-level entries of an existing folder that no geo_stunting run wrote."""
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return []
    listed: set[str] | None = None
    run = out / "run.json"
    if run.is_file():
        try:
            info = json.loads(run.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            info = {}
        if isinstance(info, dict) and isinstance(info.get("files"), dict):
            listed = {str(name).split("/")[0] for name in info["files"]}
            listed.add("run.json")
        elif not (isinstance(info, dict) and "geo_stunting" in (info.get("versions") or {})):
            return entries  # a run.json of something else

    def ours(name: str) -> bool:
        if listed is not None and name in listed:
            return True
        return name in KNOWN_OUTPUTS or name.startswith(_KNOWN_PREFIXES)

    if listed is None and not run.is_file():
        return entries  # no run.json at all: not an output folder of ours
    return [name for name in entries if not ours(name)]


def check_output_folder(
    out: str | Path,
    *,
    inputs: Iterable[str | Path] = (),
    n_subjects: int = 0,
) -> list[Problem]:
    """Return what stops `out` from taking a run's outputs (empty: it can).

    Parameters
    ----------
    out
        The output folder (it may not exist yet).
    inputs
        The study's input files (study file, subjects, facilities, area …):
        none may lie in `out`, which the run replaces whole.
    n_subjects
        For the estimate of the space the outputs need.
    """
    target = Path(out).absolute()
    problems: list[Problem] = []
    if target.exists() and not target.is_dir():
        return [
            Problem(
                f"the output folder {target} is a file",
                fix="give --out a folder (new or written by geo-stunting before)",
            )
        ]
    resolved = target.resolve()
    for given in inputs:
        path = Path(given).absolute().resolve()
        if path == resolved or _is_within(path, resolved):
            problems.append(
                Problem(
                    f"the output folder {target} holds the input {given}; the run replaces the "
                    "whole folder and would destroy it",
                    fix=f"choose another --out, e.g. {target.parent / (target.name + '-results')}",
                )
            )
    if problems:
        return problems
    if target.is_dir():
        foreign = _entries_not_ours(target)
        if foreign:
            shown = ", ".join(foreign[:5]) + (
                f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
            )
            return [
                Problem(
                    f"the output folder {target} holds files geo_stunting did not write ({shown}); "
                    "the run replaces the whole folder and would delete them",
                    fix="choose a new or empty folder with --out, or move those files away",
                )
            ]
    parent = _existing_parent(target)
    try:
        probe = Path(os.fspath(parent)) / f".geo_stunting-probe-{secrets.token_hex(4)}"
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        reason = (
            "is read-only" if exc.errno == errno.EROFS else f"cannot be written ({exc.strerror})"
        )
        return [
            Problem(
                f"{parent} {reason}, so the outputs cannot be written to {target}",
                fix="choose a writable folder with --out",
            )
        ]
    free = shutil.disk_usage(parent).free
    needed = MIN_FREE_BYTES + BYTES_PER_SUBJECT * max(0, n_subjects)
    if free < needed:
        problems.append(
            Problem(
                f"{parent} has {free / 2**20:,.0f} MiB free; the outputs of {n_subjects:,} "
                f"subjects need about {needed / 2**20:,.0f} MiB",
                fix="free some space or choose another disk with --out",
            )
        )
    return problems


def _existing_parent(path: Path) -> Path:
    for candidate in [path, *path.parents]:
        if candidate.is_dir():
            return candidate
    return Path("/")  # pragma: no cover


@dataclass
class OutputFolder:
    """A locked output folder being built in `staging`; `commit` swaps it in."""

    out: Path
    staging: Path
    committed: bool = False
    _lock_fd: int | None = field(default=None, repr=False)

    def commit(self) -> None:
        """Replace `out` by the complete staging folder (signals held back meanwhile).

        Where the kernel and file system allow (Linux ``renameat2`` with
        ``RENAME_EXCHANGE``), the two folders trade places in one atomic step;
        elsewhere the old folder is renamed away first and put back if the
        second rename fails (a kill between the two is repaired by the next run).
        """
        old = self.staging.with_suffix(".old")
        with _signals_held():
            if self.out.exists() and exchange(self.staging, self.out):
                self.committed = True
                self.staging.rename(old)  # it now holds the earlier run
                had_old = True
            else:
                had_old = self.out.exists()
                if had_old:
                    self.out.rename(old)
                try:
                    self.staging.rename(self.out)
                except BaseException:
                    if had_old:
                        old.rename(self.out)
                    raise
                self.committed = True
        if had_old:
            shutil.rmtree(old, ignore_errors=True)


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # pragma: no cover - glibc < 2.28
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    at_fdcwd, rename_exchange = -100, 2
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return bool(done == 0)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    held = {signal.SIGINT, signal.SIGTERM}
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, ValueError):  # pragma: no cover - not POSIX / not main thread
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _acquire(out: Path, command: str) -> int:
    lock = _lock_path(out)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
            os.close(fd)
            raise OutputFolderError(
                Problem(
                    f"another geo-stunting run is writing to {out} ({holder or 'unknown process'})",
                    fix="wait for it to finish, or choose another folder with --out",
                )
            ) from None
        # the holder before us may have removed the file after we opened it: retry then
        try:
            same = lock.stat().st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()}, started {started}, {command}".encode(), 0)
    return fd


def _release(out: Path, fd: int) -> None:
    _lock_path(out).unlink(missing_ok=True)
    os.close(fd)


def _clean_leftovers(out: Path) -> None:
    """Remove what killed runs left beside `out`; put back a folder a kill left renamed away."""
    prefix = f".{out.name}.geo_stunting-"
    olds = sorted(out.parent.glob(prefix + "*.old"))
    if olds and not out.exists():
        olds[-1].rename(out)
        olds = olds[:-1]
    for leftover in [*olds, *out.parent.glob(prefix + "*.partial")]:
        shutil.rmtree(leftover, ignore_errors=True)


@contextlib.contextmanager
def output_folder(
    out: str | Path,
    *,
    inputs: Iterable[str | Path] = (),
    n_subjects: int = 0,
    command: str | None = None,
) -> Iterator[OutputFolder]:
    """Lock `out`, give a staging folder to build the outputs in, and clean up after.

    The caller writes every file into ``folder.staging`` and calls
    ``folder.commit()``; leaving the block without committing (an error, a
    signal) deletes the staging folder and leaves `out` as it was.

    Raises
    ------
    OutputFolderError
        If `check_output_folder` finds a problem, or another run holds the lock.
    """
    target = Path(out).absolute()
    problems = check_output_folder(target, inputs=inputs, n_subjects=n_subjects)
    if problems:
        raise OutputFolderError(problems)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire(target, command or " ".join(["geo-stunting", *sys.argv[1:]]))
    staging = target.parent / f".{target.name}.geo_stunting-{secrets.token_hex(6)}.partial"
    folder = OutputFolder(out=target, staging=staging, _lock_fd=fd)
    try:
        _clean_leftovers(target)
        staging.mkdir()
        yield folder
    except Exception as exc:
        explained = explain_write_error(exc, target)  # before the staging folder frees space
        if explained is exc:
            raise
        raise explained from exc
    finally:
        if not folder.committed:
            shutil.rmtree(staging, ignore_errors=True)
        _release(target, fd)


def input_paths(config: StudyConfig) -> list[Path]:
    """The files (and folders) a study reads: the study file and every data path in it."""
    paths = [] if config.path is None else [config.path]
    specs = (config.subjects, config.facilities, config.area)
    paths.extend(_before_glob(spec.path) for spec in specs if spec is not None)
    respondents = (config.risk_factors or {}).get("respondents")
    if isinstance(respondents, dict) and isinstance(respondents.get("path"), str):
        base = Path() if config.path is None else config.path.parent
        paths.append(base / respondents["path"])
    return paths


def _before_glob(path: Path) -> Path:
    parts = path.parts
    for pos, part in enumerate(parts):
        if any(c in part for c in "*?["):
            return Path(*parts[:pos]) if pos else Path()
    return path


#: Free space below this when a run fails means the disk filled up.
_FULL_BYTES = 4 * 1024 * 1024


def explain_write_error(exc: Exception, out: Path) -> Exception:
    """A full disk or a read-only folder met during a run is the user's to fix: say so.

    Returns an `OutputFolderError` for those, `exc` itself otherwise.
    """
    if isinstance(exc, GeoStuntingError):
        return exc
    text = " ".join(str(exc).split())[:200]
    code = getattr(exc, "errno", None)
    parent = _existing_parent(out.parent)
    free = shutil.disk_usage(parent).free
    if code in (errno.ENOSPC, errno.EDQUOT) or free < _FULL_BYTES:
        return OutputFolderError(
            Problem(
                f"the disk of {out} is full ({free / 2**20:,.1f} MiB free; {text}); this run "
                f"wrote nothing and {out} is as it was before it",
                fix="free some space or choose another disk with --out",
            )
        )
    if code in (errno.EROFS, errno.EACCES, errno.EPERM):
        return OutputFolderError(
            Problem(f"{out} cannot be written ({text})", fix="choose a writable folder with --out")
        )
    return exc
