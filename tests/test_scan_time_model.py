"""The scan step's time model against the district runs of benchmarks/scan_gini.py.

The step chooses its largest window by Gini with 15 maximum sizes; they share
one sweep of the replications (`geo_stunting.scan._cutoffs`), which costs
about 1.2 scans at 50 %, no longer the 4.6 of 15 separate scans. The
measured figures are recorded here: CPU seconds (both threads counted) of
the Gini choice on the SYNTHETIC district studies (benchmarks/district_study.py,
the 241 Ogan Ilir villages, a fifth cases, 999 replications), on a shared
machine. The model must stay within a factor of them, so that the CLI's
"expect about …" before the step is true.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

import geo_stunting as gs
from geo_stunting import estimate
from geo_stunting.estimate import estimate_step
from tests.test_pattern_time_model import _district as _pattern_district

#: CPU seconds of the Gini choice (every maximum size, one sweep) at 10,000 and 30,000 children.
MEASURED_CPU_S = {10000: 10.4, 30000: 95.2}
#: The model may be off by this factor either way (a busy machine takes longer).
FACTOR = 2.0


def _district(n: int) -> gs.Study:
    """The district of the pattern time model, scanned with the Gini choice (no limits given)."""
    study = _pattern_district(n)
    scan = replace(study.settings.scan, max_share=None, max_radius_m=None)
    return replace(study, settings=replace(study.settings, scan=scan))


@pytest.mark.parametrize("n", sorted(MEASURED_CPU_S))
def test_scan_estimate_is_within_a_factor_of_the_district_runs(
    n: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEO_STUNTING_THREADS", "2")
    study = _district(n)
    assert study.settings.scan.max_share is None  # the Gini choice
    assert study.settings.scan.max_radius_m is None
    scan = estimate_step("scan", study)
    assert scan is not None
    cpu = scan.seconds * 2  # two threads
    assert MEASURED_CPU_S[n] / FACTOR <= cpu <= MEASURED_CPU_S[n] * FACTOR
    assert "one sweep" in scan.why


def test_a_fixed_maximum_costs_one_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEO_STUNTING_THREADS", "2")
    study = _district(30000)
    gini = estimate_step("scan", study)
    settings = replace(study.settings, scan=replace(study.settings.scan, max_share=0.5))
    half = estimate_step("scan", replace(study, settings=settings))
    assert gini is not None
    assert half is not None
    assert gini.seconds == pytest.approx(half.seconds * estimate._GINI_COST)
