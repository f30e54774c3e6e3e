"""Write the risk-factor fixture (subjects.csv) from the synthetic demo subjects.

Run from the repository root:  python tests/reference/risk_factors/make_fixture.py

The fixture is data/demo/subjects.csv without coordinates and village, with a
few values blanked (deterministically) so that missing values are exercised:
the R script (risk_factors.R) and the tests read the same file.
"""

from __future__ import annotations

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SOURCE = ROOT / "data" / "demo" / "subjects.csv"
TARGET = Path(__file__).with_name("subjects.csv")
DROP = ("village", "lat", "lon")
# (row number counted from 1 among the subjects, column) to blank
BLANK = (
    (5, "mother_knowledge"),
    (17, "mother_knowledge"),
    (40, "income_below_umr"),
    (9, "lighting_lux"),
    (120, "lighting_lux"),
    (33, "water_mn_mgl"),
    (77, "mother_education"),
)


def main() -> None:
    with SOURCE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for number, column in BLANK:
        rows[number - 1][column] = ""
    fields = [f for f in rows[0] if f not in DROP]
    with TARGET.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=fields, lineterminator="\n", extrasaction="ignore"
        )
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {TARGET} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
