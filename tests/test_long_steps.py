"""Long steps report their simulations to a progress reporter and say how long they expect."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import geo_stunting as gs
from geo_stunting import cli, estimate
from geo_stunting.estimate import estimate_step
from geo_stunting.pattern._casecontrol import cuzick_edwards, k_difference
from geo_stunting.pattern._kfunction import envelope
from geo_stunting.pattern._nearest_neighbour import clark_evans
from geo_stunting.progress import Advance, use_reporter
from geo_stunting.scan._bernoulli import scan_bernoulli_xy
from tests.pattern_fixture import fixture_subjects, fixture_window

SUBJECTS = fixture_subjects()
WINDOW = fixture_window(SUBJECTS)


class Recorder:
    def __init__(self) -> None:
        self.totals: dict[str, int] = {}
        self.done: dict[str, int] = {}

    @contextmanager
    def __call__(self, description: str, total: int) -> Iterator[Advance]:
        self.totals[description] = total
        self.done[description] = 0

        def advance(n: int = 1) -> None:
            self.done[description] += n

        yield advance


def _only(recorder: Recorder, word: str) -> tuple[int, int]:
    keys = [k for k in recorder.totals if word in k]
    assert len(keys) == 1, recorder.totals
    return recorder.totals[keys[0]], recorder.done[keys[0]]


@pytest.mark.parametrize(
    ("word", "run"),
    [
        ("envelope", lambda: envelope(SUBJECTS, window=WINDOW, permutations=7, seed=1)),
        ("Clark", lambda: clark_evans(SUBJECTS, window=WINDOW, permutations=7, seed=1)),
        ("relabel", lambda: k_difference(SUBJECTS, window=WINDOW, permutations=7, seed=1)),
        ("Cuzick", lambda: cuzick_edwards(SUBJECTS, ks=(1,), permutations=7, seed=1)),
    ],
)
def test_pattern_simulations_are_counted(word: str, run: object) -> None:
    recorder = Recorder()
    with use_reporter(recorder):
        run()  # type: ignore[operator]
    assert _only(recorder, word) == (7, 7)


def test_scan_counts_every_centre() -> None:
    rng = np.random.default_rng(2)
    xy = rng.uniform(0, 1000, size=(60, 2))
    recorder = Recorder()
    with use_reporter(recorder):
        scan_bernoulli_xy(xy[:, 0], xy[:, 1], rng.random(60) < 0.3, permutations=9, seed=1)
    total, done = _only(recorder, "scan")
    assert total == done == 60


def test_estimate_grows_with_permutations_and_says_how_to_shorten() -> None:
    study = gs.load_study(gs.demo_study_path())
    few = estimate_step(
        "pattern", study.with_settings(study.settings.with_overrides(permutations=99))
    )
    many = estimate_step("pattern", study)
    assert few is not None
    assert many is not None
    assert many.seconds == pytest.approx(few.seconds * 999 / 99)
    assert "--permutations 99" in many.sentence()
    scan = estimate_step("scan", study)
    assert scan is not None
    assert "max_radius_m" in scan.shorten
    access = estimate_step("access", study)  # every step has an estimate; the demo's is short
    assert access is not None
    assert access.seconds < 10


@pytest.mark.parametrize(
    "run",
    [
        lambda: envelope(SUBJECTS, window=WINDOW, permutations=19, seed=4).hi,
        lambda: np.array([clark_evans(SUBJECTS, window=WINDOW, permutations=19, seed=4).p_mc]),
        lambda: k_difference(SUBJECTS, window=WINDOW, permutations=19, seed=4).lo,
    ],
    ids=["envelope", "clark_evans", "k_difference"],
)
def test_simulations_in_threads_are_byte_identical_to_one_thread(
    run: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEO_STUNTING_THREADS", "1")
    one = run()  # type: ignore[operator]
    monkeypatch.setenv("GEO_STUNTING_THREADS", "3")
    three = run()  # type: ignore[operator]
    assert one.tobytes() == three.tobytes()


def test_cli_says_the_expected_time_with_the_given_permutations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(estimate, "SAY_ABOVE_S", 0.0)
    command = ["analyze", str(gs.demo_study_path()), "--out", str(tmp_path)]
    command += ["--only", "pattern", "--permutations", "9"]
    result = CliRunner().invoke(cli.app, command)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "pattern: expect about" in said
    assert "9 simulations of 67 cases and 134 controls" in said
    assert "to shorten: fewer permutations" in said
