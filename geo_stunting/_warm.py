"""Compile the later steps' numba kernels in a second process while the first steps run.

On a first run after install numba's cache is empty, and every compiled
kernel is compiled when it is first called: the ``pattern`` step's, then the
``scan``, ``relative_risk``, ``areas`` and ``autocorrelation`` steps' — one
after the other, on one core. `start_warming` starts a helper process that
runs those later steps on the same study (with 19 permutations, its results
thrown away) only to compile their kernels into numba's on-disk cache, on the
other core, while this process loads the study and runs ``access`` and
``pattern``. When this process reaches those steps it loads the kernels from
the cache instead of compiling them; a kernel the helper has not finished is
simply compiled here as before. Nothing the helper does reaches any result:
numba writes each cache file whole (a temporary file, then a rename), and
compiled code is the same whichever process compiled it.

The helper starts only when the cache looks empty (a first run), a core is
free (the load average is below the number of usable cores minus one: on a
busy machine the helper only competes — measured on 2 cores at load 9: 53 s
with it, 42 s without), the study is small (at most `WARM_MAX_SUBJECTS`
children: reading it twice costs nothing), it was read from a file, and
``GEO_STUNTING_WARM`` is not ``0``. It runs at a lower priority (``nice`` 10).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "WARM_ENV",
    "WARM_MAX_SUBJECTS",
    "WARM_STEPS",
    "a_core_is_free",
    "cache_is_cold",
    "start_warming",
    "stop_warming",
]

log = logging.getLogger(__name__)

#: Environment variable: ``0`` turns the helper off.
WARM_ENV = "GEO_STUNTING_WARM"
#: Studies with more children are not read a second time.
WARM_MAX_SUBJECTS = 5_000
#: The steps the helper runs: those after ``pattern`` that compile kernels.
WARM_STEPS = ("autocorrelation", "scan", "relative_risk", "areas")
_PERMUTATIONS = 19


def cache_is_cold() -> bool:
    """True when numba's cache holds no compiled scan kernel (a first run)."""
    try:
        from geo_stunting.scan._kernels import best_windows  # noqa: PLC0415 - loads numba

        cache: Any = getattr(best_windows, "_cache")  # noqa: B009 - numba's cache of this kernel
        index = Path(cache._cache_path) / cache._cache_file._index_name  # noqa: SLF001
    except (AttributeError, ImportError):  # another numba: never start the helper
        return False
    return not index.exists()


def a_core_is_free() -> bool:
    """True when the 1-minute load average leaves a usable core idle."""
    try:
        cores = len(os.sched_getaffinity(0))
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - not on Linux
        return False
    return load < cores - 1


def start_warming(
    study_file: Path, n_subjects: int, steps: tuple[str, ...] | None
) -> subprocess.Popen[bytes] | None:
    """Start the helper process for this run, or return None when it would not help."""
    wanted = [s for s in WARM_STEPS if steps is None or s in steps]
    if (
        os.environ.get(WARM_ENV, "1") == "0"
        or not wanted
        or n_subjects > WARM_MAX_SUBJECTS
        or not study_file.is_file()
        or not a_core_is_free()
        or not cache_is_cold()
    ):
        return None
    command = [sys.executable, "-m", "geo_stunting._warm", str(study_file), *wanted]
    log.debug("compiling the kernels of %s in a helper process", ", ".join(wanted))
    return subprocess.Popen(  # noqa: S603 - our own module, with the study file's path
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, WARM_ENV: "0"},
        preexec_fn=_lower_priority,  # noqa: PLW1509 - only os.nice, no locks taken
    )


def stop_warming(helper: subprocess.Popen[bytes] | None) -> None:
    """End the helper if it is still running (the run no longer needs it)."""
    if helper is not None and helper.poll() is None:
        helper.terminate()
        helper.wait()


def _lower_priority() -> None:
    os.nice(10)


def _main(argv: list[str]) -> None:
    import geo_stunting as gs  # noqa: PLC0415

    study = gs.load_study(argv[0])
    gs.analyze(study, steps=argv[1:], permutations=_PERMUTATIONS)


if __name__ == "__main__":
    _main(sys.argv[1:])
