"""The ``autocorrelation`` step: Moran's I, join counts, LISA and Gi* of case status."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from geo_stunting.autocorrelation._statistics import (
    COLD_SPOT,
    HOT_SPOT,
    ISOLATE,
    NOT_SIGNIFICANT,
    JoinCounts,
    MoranResult,
    build_neighbours,
    getis_ord,
    join_counts,
    local_moran,
    moran,
    subject_ids,
)
from geo_stunting.pipeline import StepOutput, register_step

if TYPE_CHECKING:
    from geo_stunting.study._study import Study

__all__ = ["MULTIPLE_TESTING", "autocorrelation_step"]

ALPHA = 0.05
#: How the local classes (LISA labels, Gi* hot and cold spots) are chosen.
MULTIPLE_TESTING = (
    "LISA labels and Gi* hot/cold spots: Benjamini-Hochberg false discovery rate at 0.05 over "
    "all subjects (as esda's fdr); the uncorrected classes are in lisa_uncorrected, "
    "gi_star.n_*_uncorrected and the *_uncorrected layer columns"
)


@register_step(
    "autocorrelation", title="Moran's I, join counts, LISA, Gi*", needs={"cases", "controls"}
)
def autocorrelation_step(study: Study) -> StepOutput:
    """The ``autocorrelation`` step: Moran's I, join counts, LISA and Gi* of the case indicator."""
    settings = study.settings
    subjects = study.subjects
    neighbours = build_neighbours(subjects, weights=settings.weights)
    seeds = np.random.SeedSequence(settings.seed).generate_state(4)
    perms = settings.permutations
    global_moran = moran(subjects, neighbours=neighbours, permutations=perms, seed=int(seeds[0]))
    joins = join_counts(subjects, neighbours=neighbours, permutations=perms, seed=int(seeds[1]))
    lisa = local_moran(subjects, neighbours=neighbours, permutations=perms, seed=int(seeds[2]))
    gi = getis_ord(subjects, neighbours=neighbours, permutations=perms, seed=int(seeds[3]))
    layer = subjects[["subject_id", "status", "geometry"]].copy()
    for column in lisa.columns:
        layer[column] = lisa[column]
    for column in gi.columns:
        layer[column] = gi[column]
    cards = neighbours.cardinalities
    section = {
        "weights": {
            "rule": neighbours.rule,
            "n_links": int(neighbours.matrix.nnz),
            "min_neighbours": int(cards.min()),
            "max_neighbours": int(cards.max()),
            "n_isolates": len(neighbours.isolates),
            "isolates": subject_ids(subjects, neighbours.isolates),
            "ties": "ties at the k-th distance are all neighbours (shared locations included)",
        },
        "moran": global_moran.to_dict(),
        "join_counts": joins.to_dict(),
        "lisa": _label_counts(lisa["lisa_label"]),
        "lisa_uncorrected": _label_counts(lisa["lisa_label_uncorrected"]),
        "lisa_alpha": ALPHA,
        "lisa_p": "two-sided conditional permutation p-value (twice the nearer tail)",
        "gi_star": {
            "n_hot": int((gi["gi_star_label"] == HOT_SPOT).sum()),
            "n_cold": int((gi["gi_star_label"] == COLD_SPOT).sum()),
            "n_hot_uncorrected": int((gi["gi_star_label_uncorrected"] == HOT_SPOT).sum()),
            "n_cold_uncorrected": int((gi["gi_star_label_uncorrected"] == COLD_SPOT).sum()),
            "alpha": ALPHA,
            "p": (
                "two-sided conditional permutation p-value"
                if perms > 0
                else "two-sided normal p-value"
            ),
        },
        "multiple_testing": MULTIPLE_TESTING,
        "summary": _summary(global_moran, joins, lisa),
    }
    return StepOutput(section=section, layers={"subjects_autocorrelation": layer})


def _label_counts(labels: pd.Series) -> dict[str, int]:
    counts = labels.value_counts()
    order = ["HH", "LH", "LL", "HL", NOT_SIGNIFICANT, ISOLATE]
    return {label: int(counts.get(label, 0)) for label in order}


def _summary(mi: MoranResult, joins: JoinCounts, lisa: pd.DataFrame) -> list[str]:
    p = mi.p_sim if mi.p_sim is not None else mi.p_rand
    kind = "permutation" if mi.p_sim is not None else "normal"
    if p <= ALPHA:
        verdict = "the neighbours of cases are cases more often than chance explains"
    else:
        verdict = "no evidence that the neighbours of cases are cases more often than by chance"
    hh = int((lisa["lisa_label"] == "HH").sum())
    hh_raw = int((lisa["lisa_label_uncorrected"] == "HH").sum())
    lines = [
        (
            f"Moran's I of the case indicator is {mi.I:.3f} (expected {mi.expected:.3f} if cases "
            f"were placed at random among the subjects; one-sided {kind} p = {p:.3f}): "
            f"{verdict}."
        ),
        (
            f"{joins.bb:.0f} pairs of neighbours are both cases, against {joins.expected_bb:.1f} "
            f"expected (one-sided p = "
            f"{joins.p_sim_bb if joins.p_sim_bb is not None else joins.p_bb:.3f})."
        ),
        (
            f"{hh} subject(s) sit in a significant local cluster of cases (LISA 'HH', two-sided "
            f"p, false discovery rate 5 %); {hh_raw} before correcting for the many local tests."
        ),
    ]
    if mi.n_isolates:
        lines.append(
            f"{mi.n_isolates} subject(s) have no neighbour within the distance band; their "
            "spatial lag is 0 and they have no LISA label."
        )
    return lines
