"""Compile a run's numba kernels in a background process while the run gets going.

A first run after install compiles the numba kernels it calls (about 8 CPU s
for the demo: the pattern pair scan alone 5 s). Each kernel is decorated with
``cache=True``, so a compiled kernel is saved to numba's on-disk cache and a
later process loads it in milliseconds. `start`, called by the
``geo-stunting`` command before it imports anything else (`geo_stunting._launch`),
and again when `geo_stunting.analyze` begins, starts at once one new Python
process for the kernels of the wanted steps that this process has not compiled
yet. Checking numba's cache here would mean importing each kernel's module
(for most, its subpackage: esda, geopandas, …) before the start, so the new
process checks: it takes the kernels in the order the steps first call them,
reports at once each that is in the cache (``cached``) and compiles each that
is not, reporting it once it is saved (``saved``). `wait`, called just before a
kernel's first call, blocks until that report, so the call loads the kernel
from the cache instead of compiling it again. The compiling runs on the second
core while this process imports, reads and analyses.

Safe by construction, and never needed for a result:

- nothing starts when every kernel is already compiled in this process, when
  the record an earlier background process left says they are all in numba's
  cache and nothing changed since (`_all_cached`: each is checked again at
  its first call, and compiled in a background process if missing after all),
  or with ``GEO_STUNTING_COMPILE_AHEAD=0``;
- nor when no core is free: with one core, or a 1-minute load average of
  more than the cores less 0.5 (POSIX: on two cores, more than one and a half
  busy on average), a second process would only take turns with this one and
  add its own start (``=1`` starts it regardless). The bound leaves room for
  the install that ran just before a first run: ``pip`` lifts the 1-minute
  average to about 1 on its own;
- numba writes each cache file under a temporary name and renames it into
  place, so a reader never sees half a file, and two processes saving the same
  kernel both leave a whole one;
- the process is a new interpreter (``sys.executable``, no fork: the same on
  Windows); it runs none of the package ``__init__`` modules (which import
  geopandas, esda, …), only the modules that define the kernels;
- if it cannot start, fails, cannot write the cache (a read-only install with
  no writable numba cache folder) or has not reported a kernel within
  `WAIT_S`, the call compiles the kernel itself, as without this module: the
  same machine code, only later;
- `close` (at the end of `geo_stunting.analyze`, and at exit) ends it.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "KERNELS",
    "WAIT_S",
    "Kernel",
    "close",
    "core_free",
    "needed",
    "run_order",
    "start",
    "wait",
]

log = logging.getLogger(__name__)

#: The longest a kernel's first call waits for the background process (seconds).
WAIT_S = 90.0
#: ``0``: compile in the run itself, as before; ``1``: in the background even on a busy
#: machine; unset: in the background when a core is free (`core_free`).
ENV_SWITCH = "GEO_STUNTING_COMPILE_AHEAD"


@dataclass(frozen=True)
class Kernel:
    """A compiled kernel every study of a step calls, and the argument types it is called with."""

    name: str
    step: str
    module: str
    signature: str


#: In the order a run first calls them, with the argument types of that call (numba's
#: notation); `tests/test_compile_ahead.py` checks that a run calls each with exactly these.
KERNELS = (
    Kernel(
        "scan_pairs",
        "pattern",
        "geo_stunting.pattern._kernels",
        "float64[::1], float64[::1], float64[::1], float64[::1], int64[::1], int64[::1],"
        " float64, float64, float64, int64, int64, int64[::1], int64[::1], float64[:, ::1],"
        " float64[::1], float64, int64, int64, float64[:, ::1], float64, int64, float64,"
        " int32[::1], uint16[::1], float64[::1], int64, int64, int64, int64",
    ),
    Kernel(
        "packed_label_sums",
        "pattern",
        "geo_stunting.pattern._labelled",
        "int64[::1], int64[::1], int32[::1], uint16[::1], float64[::1], float64[:, ::1],"
        " uint64[::1], int64",
    ),
    Kernel(
        "quadratic_form",
        "autocorrelation",
        "geo_stunting.autocorrelation._kernels",
        "int64[::1], int64[::1], float64[::1], float64[::1]",
    ),
    Kernel(
        "permuted_quadratic_forms",
        "areas",
        "geo_stunting.areas._kernels",
        "int64[::1], int64[::1], float64[::1], float64[::1], int64, int64",
    ),
    Kernel(
        "lisa_tail_counts",
        "areas",
        "geo_stunting.areas._kernels",
        "int64[::1], float64[::1], float64[::1], float64, int64[:, ::1], float64[::1]",
    ),
)
_BY_NAME = {k.name: k for k in KERNELS}
_ROOT = Path(__file__).resolve().parent  # the geo_stunting package

#: Run by the new interpreter: the package is made importable without running its
#: ``__init__`` (a bare module with the package's path), then the kernels are compiled.
_BOOT = (
    "import sys, types\n"
    "package = types.ModuleType('geo_stunting')\n"
    "package.__path__ = [sys.argv[1]]\n"
    "sys.modules['geo_stunting'] = package\n"
    "from geo_stunting._compile_ahead import compile_kernels\n"
    "compile_kernels(sys.argv[2:])\n"
)


def _signature(kernel: Kernel) -> tuple[Any, ...]:
    """The argument types, as a call passes them to numba (a tuple: the cache's key)."""
    from numba.core.sigutils import normalize_signature  # noqa: PLC0415

    args, _ = normalize_signature(f"({kernel.signature},)")  # type: ignore[no-untyped-call]
    return tuple(args)


def _dispatcher(kernel: Kernel) -> Any:
    import importlib  # noqa: PLC0415

    return getattr(importlib.import_module(kernel.module), kernel.name)


def _cached(kernel: Kernel) -> bool:
    """Whether `kernel` is compiled in this process or saved in numba's cache for this machine.

    Raises when numba's cache cannot be read as this module expects (its internals changed).
    """
    dispatcher = _dispatcher(kernel)
    signature = _signature(kernel)
    if signature in dispatcher.overloads:
        return True
    # numba's own cache of the function: the key and index its first call would look up
    cache = dispatcher._cache  # noqa: SLF001
    key = cache._index_key(signature, dispatcher.targetctx.codegen())  # noqa: SLF001
    return key in cache._cache_file._load_index()  # noqa: SLF001


def _compiled_here(kernel: Kernel) -> bool:
    """Whether this process has compiled or loaded `kernel` (never imports its module)."""
    module = sys.modules.get(kernel.module)
    dispatcher = getattr(module, kernel.name, None)
    try:
        return dispatcher is not None and _signature(kernel) in dispatcher.overloads
    except Exception:  # noqa: BLE001 - numba internals changed: let the background check
        return False


def needed(steps: Iterable[str]) -> list[str]:
    """The kernels of `steps` that this process has not compiled or loaded yet, in call order.

    Whether they are in numba's cache is not checked here: that would import
    each kernel's module (for most, its subpackage: esda, …) before the
    background process starts. The background process checks, and reports a
    cached kernel at once.
    """
    steps = set(steps)
    return [
        k.name
        for k in KERNELS
        if k.step in steps and k.name not in _in_cache and not _compiled_here(k)
    ]


#: The kernels a background process of this one reported in numba's cache: not checked again.
_in_cache: set[str] = set()


class _Background:
    """The compiling process and the kernels it has reported."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.done = {name: threading.Event() for name in names}
        root = str(_ROOT)
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and code
            [sys.executable, "-c", _BOOT, root, *names],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, name="compile-ahead", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        try:
            for line in stream:
                status, _, rest = line.strip().partition(" ")
                name, _, reason = rest.partition(" ")
                log.debug("background compile: %s %s %s", status, name, reason)
                if name in self.done:
                    if status in {"cached", "saved"}:
                        _in_cache.add(name)
                    self.done[name].set()
        finally:
            for event in self.done.values():  # the process ended: nobody waits any longer
                event.set()

    def wait(self, name: str, timeout: float) -> bool:
        event = self.done.get(name)
        return True if event is None else event.wait(timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # numba renames whole files into place: nothing half-written
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.reader.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


_lock = threading.Lock()
_running: _Background | None = None


def start(steps: Iterable[str]) -> list[str]:
    """Load or compile the kernels of `steps` in a background process; return their names.

    Does nothing (returns ``[]``) when this process has them all compiled, when
    the record of the last background process says they are all in numba's
    cache (`_all_cached`), or with ``GEO_STUNTING_COMPILE_AHEAD=0``. When a
    background process already runs (the command line starts it before reading
    the study), returns the kernels of `steps` it compiles.
    """
    global _running  # noqa: PLW0603 - one background process per Python process
    switch = os.environ.get(ENV_SWITCH, "")
    if switch == "0" or not sys.executable or getattr(sys, "frozen", False):
        return []  # switched off, or no interpreter to start (an embedded or frozen Python)
    steps = set(steps)
    with _lock:
        if _running is not None:
            return [n for n in _running.names if _BY_NAME[n].step in steps]
        names = needed(steps)
        if not names:
            return []
        if _all_cached(names):  # checked again at each kernel's first call (`wait`)
            _believed_cached.update(names)
            return []
        if switch != "1" and not core_free():
            log.info("no free core: %s compile in the run", ", ".join(names))
            return []
        try:
            _running = _Background(names)
        except OSError as exc:  # no process could start: the run compiles, as before
            log.debug("cannot start the background compile: %s", exc)
            return []
    log.info("loading or compiling %s in the background", ", ".join(names))
    return names


def core_free() -> bool:
    """Whether a second process would have a core of its own.

    Two or more cores, and a 1-minute load average below the cores less 0.5
    (where the system reports one).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    if cores < 2:
        return False
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows: no load average
        return True
    return load < cores - 0.5


def run_order(steps: Iterable[str], compiling: Iterable[str]) -> list[str]:
    """`steps` with those whose kernels are `compiling` last: the others run meanwhile.

    Steps take the study alone and seed their own random numbers, so their
    order changes no result; `geo_stunting.analyze` keeps ``results.json`` in
    step order.

    >>> run_order(["access", "pattern", "scan", "areas"], ["scan_pairs"])
    ['access', 'scan', 'areas', 'pattern']
    """
    late = {_BY_NAME[name].step for name in compiling if name in _BY_NAME}
    steps = list(steps)
    return [s for s in steps if s not in late] + [s for s in steps if s in late]


def wait(name: str) -> None:
    """Before the first call of kernel `name`: wait until the background process saved it."""
    if _running is None and name in _believed_cached:
        _check_believed(name)
    background = _running
    if background is None or name not in background.done:
        return
    if not background.wait(name, WAIT_S):
        log.info("%s not compiled in the background after %.0f s: compiling it here", name, WAIT_S)


def close() -> None:
    """End the background process, if one runs (waits for nothing it has not yet saved)."""
    global _running
    with _lock:
        background, _running = _running, None
    if background is not None:
        background.close()


atexit.register(close)


#: The kernels `start` left to numba's cache because the record said they are there.
_believed_cached: set[str] = set()


def _check_believed(name: str) -> None:
    """At a kernel's first call: is it in numba's cache, as the record said? If not, compile.

    The record (`_all_cached`) can be wrong where a cache folder is shared by
    machines with different processors: then this kernel and the others left
    to the cache are compiled in a background process, as on a first run.
    """
    global _running  # noqa: PLW0603
    _believed_cached.discard(name)
    if _cached_or_unknown(_BY_NAME[name]) is not False:
        return
    names = [name, *(k.name for k in KERNELS if k.name in _believed_cached)]
    _believed_cached.clear()
    log.info("%s is not in numba's cache after all: compiling %s", name, ", ".join(names))
    with _lock:
        if _running is None:
            try:
                _running = _Background(names)
            except OSError:  # the call compiles it, as before
                return


def _record_path() -> Path:
    """Where the background process records the kernels it found or saved in numba's cache.

    One record per interpreter, package folder and numba settings, in
    ``NUMBA_CACHE_DIR`` when it is set, else beside the package's bytecode.
    """
    import hashlib  # noqa: PLC0415

    numba_env = sorted((k, v) for k, v in os.environ.items() if k.startswith("NUMBA_"))
    key = repr((sys.executable, sys.version, str(_ROOT), numba_env))
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    folder = os.environ.get("NUMBA_CACHE_DIR") or _ROOT / "__pycache__"
    return Path(folder) / f"geo_stunting_compile_ahead.{digest}.json"


def _stat(path: str | Path) -> list[int]:
    info = Path(path).stat()
    return [info.st_mtime_ns, info.st_size]


def _numba_stat() -> list[int] | None:
    """The installed numba's ``__init__.py`` (size, time): a new numba empties its cache."""
    import importlib.util  # noqa: PLC0415

    spec = importlib.util.find_spec("numba")
    return None if spec is None or spec.origin is None else _stat(spec.origin)


def _all_cached(names: Iterable[str]) -> bool:
    """Whether the record says each kernel is in numba's cache, and nothing changed since.

    Cheap (a small JSON file and a few ``stat`` calls, no numba): each
    kernel's source file and numba's cache index of it have the size and time
    they had when the background process found or saved the kernel there, and
    numba is the same install. Anything else (no record, a file touched since,
    an unreadable record) is ``False``: the background process checks.
    """
    try:
        record = json.loads(_record_path().read_text(encoding="utf-8"))
        if record.get("numba") != _numba_stat():
            return False
        for name in names:
            entry = record["kernels"][name]
            if _stat(entry["source"]) != entry["source_stat"]:
                return False
            if _stat(entry["index"]) != entry["index_stat"]:
                return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


def _write_record(found: dict[str, Any]) -> None:
    """Add the kernels `found` in numba's cache (name → dispatcher) to the record."""
    path = _record_path()
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("numba") != _numba_stat():
            record = {}
    except (OSError, ValueError):
        record = {}
    try:
        kernels = dict(record.get("kernels", {}))
        for name, dispatcher in found.items():
            index = dispatcher._cache._cache_file._index_path  # noqa: SLF001
            source = dispatcher.py_func.__code__.co_filename
            kernels[name] = {
                "index": index,
                "index_stat": _stat(index),
                "source": source,
                "source_stat": _stat(source),
            }
        text = json.dumps({"numba": _numba_stat(), "kernels": kernels}, indent=1)
        path.parent.mkdir(exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)  # whole or not at all, as numba's own files
    except Exception:  # no record: the next run checks in the background
        log.debug("cannot record the cached kernels", exc_info=True)


def compile_kernels(names: Iterable[str]) -> None:
    """In the background process: each kernel from numba's cache, or compiled into it; say so.

    One line on stdout per kernel, in the order given: ``cached NAME`` when it
    is in the cache (not loaded here: the run loads it), ``saved NAME`` once
    compiled and saved, ``failed NAME REASON`` when it could not be compiled.
    """
    import importlib  # noqa: PLC0415
    import types  # noqa: PLC0415

    found: dict[str, Any] = {}
    for name in names:
        kernel = _BY_NAME.get(name)
        if kernel is None:
            continue
        try:
            parts = kernel.module.split(".")
            for depth in range(2, len(parts)):  # subpackages too: none of their __init__ runs
                package = ".".join(parts[:depth])
                if package not in sys.modules:
                    module = types.ModuleType(package)
                    parent = sys.modules[".".join(parts[: depth - 1])]
                    module.__path__ = [str(Path(parent.__path__[0]) / parts[depth - 1])]
                    sys.modules[package] = module
            dispatcher = getattr(importlib.import_module(kernel.module), kernel.name)
            if _cached_or_unknown(kernel) is True:
                line = f"cached {name} at {time.process_time():.2f} CPU s"
            else:
                dispatcher.compile(_signature(kernel))  # saved to numba's cache as it compiles
                line = f"saved {name} at {time.process_time():.2f} CPU s"
            found[name] = dispatcher
        except Exception as exc:  # noqa: BLE001 - reported; the run compiles it itself
            line = f"failed {name} {type(exc).__name__}: {exc}".replace("\n", " ")
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    if found and _cached_or_unknown(_BY_NAME[next(iter(found))]) is True:  # saved where looked up
        _write_record(found)


def _cached_or_unknown(kernel: Kernel) -> bool | None:
    """`_cached`, or None when the cache cannot be read (then compiling loads what it finds)."""
    try:
        return _cached(kernel)
    except Exception:  # noqa: BLE001 - numba internals changed
        return None
