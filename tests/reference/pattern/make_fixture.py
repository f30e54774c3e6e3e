"""Write the point-pattern fixture used by the pattern and autocorrelation tests.

Run once: ``python tests/reference/pattern/make_fixture.py``. Writes
``fixture_points.csv`` (id, x, y, status, stratum; metres, UTM 48S-like
coordinates) and ``fixture_window.wkt`` (a concave polygon with a hole, the
window). Five villages of clustered households; three pairs of subjects share
coordinates (twins, one household). The R scripts beside it read these files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely

HERE = Path(__file__).parent
X0, Y0 = 440_000.0, 9_640_000.0


def main() -> None:
    rng = np.random.default_rng(20231)
    outer = [(0, 0), (9000, 0), (9000, 3500), (5200, 3500), (5200, 6500), (0, 6500)]
    hole = [(1500, 4200), (2600, 4200), (2600, 5200), (1500, 5200)]
    window = shapely.Polygon(
        [(X0 + x, Y0 + y) for x, y in outer], [[(X0 + x, Y0 + y) for x, y in hole]]
    )
    centres = np.array([[1200, 1200], [4200, 2200], [7600, 1400], [1400, 3000], [3800, 5600]])
    names = ["Desa A", "Desa B", "Desa C", "Desa D", "Desa E"]
    rows = []
    while len(rows) < 150:
        k = int(rng.integers(len(centres)))
        x, y = centres[k] + rng.normal(0, 650, 2)
        if not window.contains(shapely.Point(X0 + x, Y0 + y)):
            continue
        rows.append((round(X0 + x, 2), round(Y0 + y, 2), names[k], k))
    # cases: more likely in villages B and C, and near their centres
    status = []
    for x, y, _, k in rows:
        near = np.hypot(x - X0 - centres[k][0], y - Y0 - centres[k][1]) < 600
        p = 0.25 + 0.25 * (k in (1, 2)) + 0.15 * near
        status.append("case" if rng.random() < p else "control")
    # three households with twins: copy a subject's coordinates
    for src, dst in ((3, 40), (17, 90), (55, 120)):
        rows[dst] = (rows[src][0], rows[src][1], rows[src][2], rows[src][3])
    lines = ["id,x,y,status,stratum"]
    for i, ((x, y, name, _), s) in enumerate(zip(rows, status, strict=True)):
        lines.append(f"P{i + 1:03d},{x:.2f},{y:.2f},{s},{name}")
    (HERE / "fixture_points.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (HERE / "fixture_window.wkt").write_text(window.wkt + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
