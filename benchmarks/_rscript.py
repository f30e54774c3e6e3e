"""Run a spatstat timing script on points in a window (the peer side of the pattern benchmarks)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from geo_stunting.pattern._window import StudyWindow


def spatstat_times(
    script: str, xy: np.ndarray, window: StudyWindow, budget: float
) -> dict[str, Any] | None:
    """Run `script` with ``Rscript pts.csv win.wkt budget``; its last line is a JSON dict.

    None when Rscript is missing or the script fails (the reason is printed).
    """
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        np.savetxt(base / "pts.csv", xy, delimiter=",", header="x,y", comments="", fmt="%.3f")
        (base / "win.wkt").write_text(window.geometry.wkt + "\n", encoding="utf-8")
        (base / "bench.R").write_text(script, encoding="utf-8")
        out = subprocess.run(
            [
                "Rscript",
                str(base / "bench.R"),
                str(base / "pts.csv"),
                str(base / "win.wkt"),
                str(budget),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if out.returncode != 0:
        print("  spatstat failed:", out.stderr.strip().splitlines()[-1:])
        return None
    found: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return found
