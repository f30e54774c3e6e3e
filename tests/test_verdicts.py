"""Verdicts a health office can act on: every p-value states its alternative, local classes are
corrected for multiple testing, and the words match the test."""

from __future__ import annotations

import json

import pytest

import geo_stunting as gs
from geo_stunting.outputs.map._summary import headlines
from geo_stunting.stats._alternatives import missing_alternatives


@pytest.fixture(scope="module")
def demo_sections() -> dict:
    study = gs.load_study(gs.demo_study_path())
    return json.loads(gs.analyze(study, permutations=19).to_json())


def test_every_p_value_in_results_json_states_its_alternative(demo_sections: dict) -> None:
    assert missing_alternatives(demo_sections) == []
    auto = demo_sections["autocorrelation"]
    assert auto["moran"]["alternative"] == "greater"
    assert auto["join_counts"]["alternative"] == "greater"
    assert demo_sections["pattern"]["kdiff"]["alternative"] == "greater"
    assert demo_sections["pattern"]["kdiff"]["p_global_alternative"] == "two-sided"
    assert {c["alternative"] for c in demo_sections["pattern"]["cuzick_edwards"]} == {"greater"}
    assert demo_sections["scan"]["alternative"] == "greater"
    assert demo_sections["access"]["test"]["alternative"] == "two-sided"


def test_a_p_value_without_alternative_is_found() -> None:
    tree = {"x": {"alternative": "greater", "y": [{"p_value": 0.1}]}, "z": {"lisa_p": 0.2}}
    assert missing_alternatives(tree) == ["z.lisa_p"]


def test_headlines_say_one_sided_and_corrected(demo_sections: dict) -> None:
    text = " ".join(headlines(demo_sections))
    assert "Moran's I" in text
    assert "one-sided" in text
    assert "false discovery rate 5 %" in text
    assert "before correcting" not in text
    lisa, raw = (
        demo_sections["autocorrelation"]["lisa"],
        demo_sections["autocorrelation"]["lisa_uncorrected"],
    )
    assert sum(lisa[k] for k in ("HH", "LH", "LL", "HL")) <= sum(
        raw[k] for k in ("HH", "LH", "LL", "HL")
    )
