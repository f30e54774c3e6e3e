"""The same field study gives the same verdicts whichever area file describes it.

Runs beside ``shared/data/ogan_ilir`` (real village and kecamatan boundaries, not
shipped with the package); skipped elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import geo_stunting as gs
from tests.field_study import boundaries_dir, write_field_study

pytestmark = pytest.mark.skipif(
    boundaries_dir() is None, reason="shared/data/ogan_ilir is not beside this repository"
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    paths = write_field_study(tmp_path_factory.mktemp("field"), permutations=99)
    out = {}
    for kind, path in paths.items():
        study = gs.load_study(Path(path))
        out[kind] = (study, gs.analyze(study).sections)
    return out


def _verdict(p: float) -> bool:
    return p <= 0.05


def test_case_control_verdicts_do_not_depend_on_the_area_file(runs: dict[str, Any]) -> None:
    (study, desa), (_, kec) = runs["desa"], runs["kecamatan"]
    a, b = desa["pattern"], kec["pattern"]
    # the r range comes from where the children are, not from a 2,300 km² regency
    np.testing.assert_allclose(a["kdiff"]["r_m"], b["kdiff"]["r_m"])
    xy = np.column_stack([study.subjects.geometry.x, study.subjects.geometry.y])
    assert a["kdiff"]["r_m"][-1] <= np.ptp(xy, axis=0).min() / 4 + 1e-6
    assert _verdict(a["kdiff"]["p_value"]) == _verdict(b["kdiff"]["p_value"])
    assert _verdict(a["kdiff_within_strata"]["p_value"]) == _verdict(
        b["kdiff_within_strata"]["p_value"]
    )
    assert [c["p_mc"] for c in a["cuzick_edwards"]] == [c["p_mc"] for c in b["cuzick_edwards"]]
    # the planted cluster is found within villages, with either file
    assert _verdict(a["kdiff_within_strata"]["p_value"])


def test_window_is_the_areas_holding_children_with_a_note(runs: dict[str, Any]) -> None:
    desa, kec = runs["desa"][1]["pattern"]["window"], runs["kecamatan"][1]["pattern"]["window"]
    assert desa["area_m2"] < 40e6  # 7 villages, not 241
    assert any("234 of 241 study-area polygons hold no subject" in n for n in desa["notes"])
    assert kec["area_m2"] < 90e6  # kecamatan Indralaya, not the regency
    assert any("15 of 16" in n for n in kec["notes"])
    from geo_stunting.outputs.map._summary import headlines  # noqa: PLC0415

    lead = headlines(runs["desa"][1])[0]
    assert "in 7 villages (of 241 in the area file)" in lead


def test_raised_risk_only_where_children_live_with_either_area_file(runs: dict[str, Any]) -> None:
    from geo_stunting.scan._contours import raised_risk_areas  # noqa: PLC0415
    from geo_stunting.scan._relative_risk import relative_risk_surface  # noqa: PLC0415

    found = {}
    for kind, (study, _) in runs.items():
        result = relative_risk_surface(study.subjects, area=study.area, permutations=999, seed=1)
        areas = raised_risk_areas(result)
        assert result.cell_m <= result.bandwidth_m / 4 + 1e-9
        assert all(r["n_subjects"] >= 1 for r in areas.records)
        for polygon in areas.polygons:
            assert study.subjects.geometry.within(polygon).any()
            assert study.subjects.distance(polygon).min() == 0
        found[kind] = (result.bandwidth_m, len(areas.polygons))
    # the same bandwidth (its search range comes from the children, not the area file)
    assert found["desa"][0] == pytest.approx(found["kecamatan"][0])
    assert found["desa"][1] >= 1  # the planted cluster
    assert found["kecamatan"][1] >= 1
