"""The ``autocorrelation`` step: Moran's I, join counts, LISA and Gi* of case status."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from geo_stunting.autocorrelation._statistics import (
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

__all__ = ["autocorrelation_step"]


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
    lisa_fdr = local_moran(
        subjects, neighbours=neighbours, permutations=perms, seed=int(seeds[2]), fdr=True
    )
    gi = getis_ord(subjects, neighbours=neighbours, permutations=perms, seed=int(seeds[3]))
    layer = subjects[["subject_id", "status", "geometry"]].copy()
    for column in ("lisa_I", "lisa_quadrant", "lisa_p", "lisa_label"):
        layer[column] = lisa[column]
    layer["lisa_label_fdr"] = lisa_fdr["lisa_label"]
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
        "lisa_fdr": _label_counts(lisa_fdr["lisa_label"]),
        "lisa_alpha": 0.05,
        "gi_star": {
            "n_hot_p05": int(np.sum((gi["gi_star_z"] > 0) & (gi["gi_star_p"] <= 0.05))),
            "n_cold_p05": int(np.sum((gi["gi_star_z"] < 0) & (gi["gi_star_p"] <= 0.05))),
        },
        "summary": _summary(global_moran, joins, lisa),
    }
    return StepOutput(section=section, layers={"subjects_autocorrelation": layer})


def _label_counts(labels: pd.Series) -> dict[str, int]:
    counts = labels.value_counts()
    order = ["HH", "LH", "LL", "HL", NOT_SIGNIFICANT, ISOLATE]
    return {label: int(counts.get(label, 0)) for label in order}


def _summary(mi: MoranResult, joins: JoinCounts, lisa: pd.DataFrame) -> list[str]:
    p = mi.p_sim if mi.p_sim is not None else mi.p_rand
    direction = "more often" if mi.expected < mi.I else "less often"
    verdict = "beyond what chance explains" if p <= 0.05 else "no more than chance would"
    hh = int((lisa["lisa_label"] == "HH").sum())
    lines = [
        (
            f"Moran's I of the case indicator is {mi.I:.3f} (expected {mi.expected:.3f} if cases "
            f"were placed at random among the subjects; permutation p = {p:.3f}): the neighbours "
            f"of cases are cases {direction} than average, {verdict}."
        ),
        (
            f"{joins.bb:.0f} pairs of neighbours are both cases, against {joins.expected_bb:.1f} "
            f"expected (p = {joins.p_sim_bb if joins.p_sim_bb is not None else joins.p_bb:.3f})."
        ),
        (
            f"{hh} case(s) sit in a significant local cluster of cases (LISA 'HH', p ≤ 0.05 "
            "before correcting for the many local tests; see lisa_fdr for the corrected count)."
        ),
    ]
    if mi.n_isolates:
        lines.append(
            f"{mi.n_isolates} subject(s) have no neighbour within the distance band; their "
            "spatial lag is 0 and they have no LISA label."
        )
    return lines
