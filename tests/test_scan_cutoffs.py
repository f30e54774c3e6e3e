"""Every maximum size from one set of replications: the per-size scans, bit for bit.

`geo_stunting.scan._maxsize.scan_shares` sweeps the windows of the largest
share once and keeps a running maximum per share; here it is compared with
`scan_bernoulli` run once per share (what `choose_max_share` did before,
always by the compiled single scan, so that the NumPy twin is checked against
independent code) on
studies with ties in distance, several subjects per location, a radius
limit, every direction and the grave data, on the NumPy path (up to 300
subjects) and the compiled one (several chunks, blocks and regroupings).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geo_stunting.scan import _cutoffs, _kernels, _small
from geo_stunting.scan._bernoulli import ScanResult, scan_bernoulli
from geo_stunting.scan._maxsize import GINI_SHARES, choose_max_share, gini_coefficient, scan_shares

GRAVE = Path(__file__).parent / "reference" / "grave" / "grave_points.csv"
SHARES = (0.02, 0.05, 0.1, 0.15, 0.3, 0.5)


def _frame(xy: np.ndarray, is_case: np.ndarray) -> gpd.GeoDataFrame:
    # metres near Indralaya in UTM 48S
    return gpd.GeoDataFrame(
        {
            "subject_id": [f"s{i}" for i in range(len(xy))],
            "status": np.where(is_case, "case", "control"),
        },
        geometry=gpd.points_from_xy(xy[:, 0] + 450_000.0, xy[:, 1] + 9_640_000.0),
        crs="EPSG:32748",
    )


def _study(kind: str, n: int, seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    if kind == "ties":  # integer grid: many equal distances and shared places
        xy = rng.integers(0, 12, size=(n, 2)).astype(float) * 50.0
    elif kind == "shared":  # every home shared by 1 to 4 subjects
        places = rng.uniform(0, 2_000, size=(n // 2, 2))
        xy = np.repeat(places, rng.integers(1, 5, size=len(places)), axis=0)[:n]
    else:
        xy = rng.uniform(0, 2_000, size=(n, 2))
    is_case = rng.random(len(xy)) < np.where(xy[:, 0] < 600, 0.55, 0.3)
    return _frame(xy, is_case)


def _grave() -> gpd.GeoDataFrame:
    grave = pd.read_csv(GRAVE)
    frame = _frame(grave[["x", "y"]].to_numpy(float), (grave["status"] == "case").to_numpy())
    frame["subject_id"] = grave["id"].astype(str).to_numpy()
    return frame


def _same(one: list[ScanResult], loop: list[ScanResult]) -> None:
    assert len(one) == len(loop)
    for a, b in zip(one, loop, strict=True):
        assert a.simulated_llr.tobytes() == b.simulated_llr.tobytes()
        assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())


def _loop(
    frame: gpd.GeoDataFrame, shares: tuple[float, ...], **options: object
) -> list[ScanResult]:
    """`scan_bernoulli` once per share, always the compiled single scan (`_kernels.run_scan`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_small, "SMALL_SCAN_SUBJECTS", 0)
        return [scan_bernoulli(frame, max_share=s, **options) for s in shares]  # type: ignore[arg-type]


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled path with several chunks, blocks and regroupings."""
    monkeypatch.setattr(_small, "SMALL_SCAN_SUBJECTS", 0)
    monkeypatch.setattr(_kernels, "CHUNK_ENTRIES", 3_000)
    monkeypatch.setattr(_kernels, "MAX_BLOCK", 32)


@pytest.mark.parametrize("kind", ["ties", "shared", "uniform"])
@pytest.mark.parametrize("direction", ["high", "low", "both"])
@pytest.mark.parametrize("path", ["numpy", "compiled"])
def test_one_set_of_replications_gives_every_share(
    kind: str, direction: str, path: str, request: pytest.FixtureRequest
) -> None:
    if path == "compiled":
        request.getfixturevalue("compiled")
    frame = _study(kind, 240, seed=len(kind) + len(direction))
    options = {"direction": direction, "permutations": 99, "seed": 4}
    _same(scan_shares(frame, shares=SHARES, **options), _loop(frame, SHARES, **options))  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["numpy", "compiled"])
def test_a_radius_limit_and_equal_cutoffs(path: str, request: pytest.FixtureRequest) -> None:
    if path == "compiled":
        request.getfixturevalue("compiled")
    frame = _study("ties", 90, seed=3)
    # 0.01 and 0.02 of 90 subjects both allow windows of one subject
    shares = (0.02, 0.03, 0.2, 0.5)
    options = {"max_radius_m": 180.0, "direction": "both", "permutations": 149, "seed": 8}
    _same(scan_shares(frame, shares=shares, **options), _loop(frame, shares, **options))  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["numpy", "compiled"])
def test_grave_every_gini_share(path: str, request: pytest.FixtureRequest) -> None:
    if path == "compiled":
        request.getfixturevalue("compiled")
    frame = _grave()
    shares = tuple(s for s in GINI_SHARES if int(s * len(frame)) >= 1)
    options = {"permutations": 999, "seed": 12345}
    _same(scan_shares(frame, shares=shares, **options), _loop(frame, shares, **options))  # type: ignore[arg-type]


def test_choose_max_share_is_the_loop_over_shares(compiled: None) -> None:
    frame = _study("uniform", 400, seed=6)
    choice = choose_max_share(frame, permutations=199, seed=3)
    loop = _loop(frame, GINI_SHARES, permutations=199, seed=3)
    gini = []
    for result in loop:
        significant = [(c.n, c.cases) for c in result.clusters if (c.p_value or 1.0) <= 0.05]
        gini.append(gini_coefficient(significant, n_subjects=400, n_cases=result.n_cases))
    assert choice.gini == tuple(gini)
    assert max(gini) > 0
    chosen = loop[GINI_SHARES.index(choice.max_share)]
    assert json.dumps(choice.result.to_dict()) == json.dumps(chosen.to_dict())


def test_a_broken_cutoff_is_caught(compiled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A window whose population equals a cutoff counted only for the larger ones: it shows."""
    frame = _study("shared", 240, seed=2)
    options = {"direction": "high", "permutations": 99, "seed": 4}
    loop = _loop(frame, SHARES, **options)

    def off_by_one(cuts: np.ndarray) -> np.ndarray:
        return np.searchsorted(cuts, np.arange(int(cuts[-1]) + 1), side="right").astype(np.int64)

    monkeypatch.setattr(_cutoffs, "first_cutoff", off_by_one)
    with pytest.raises(AssertionError):
        _same(scan_shares(frame, shares=SHARES, **options), loop)  # type: ignore[arg-type]
