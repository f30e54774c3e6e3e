"""A demo run with small synthetic layers of the steps still being written.

The `access` step runs for real on the demo; LISA/Gi*, scan and relative-risk
layers are made here with known labels, so that every style of the map is
drawn and the expected number of features is known by construction.
"""

from __future__ import annotations

from functools import cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

import geo_stunting as gs

XSS = '<img src=x onerror="window.__xss=(window.__xss||0)+1">'

#: LISA labels of the first subjects (the rest are not significant).
LISA_FIRST = ["HH", "HH", "HH", "HH", "LH", "LH", "LL", "HL"]
#: Gi* of the first subjects: (z, p); three hot and two cold spots at p ≤ 0.05.
GI_FIRST = [(2.5, 0.01), (2.1, 0.03), (3.0, 0.001), (-2.2, 0.02), (-2.0, 0.04), (1.0, 0.3)]


@cache
def _access_run() -> gs.Results:
    return gs.analyze(gs.load_study(gs.demo_study_path()), steps=["access"])


def with_step_layers(results: gs.Results) -> gs.Results:
    """`results` plus synthetic autocorrelation, scan and relative-risk layers."""
    subjects = results.layers["subjects"]
    n = len(subjects)
    auto = subjects[["subject_id", "status", "geometry"]].copy()
    auto["lisa_label"] = LISA_FIRST + ["not significant"] * (n - len(LISA_FIRST))
    auto["lisa_p"] = [0.01] * len(LISA_FIRST) + [0.5] * (n - len(LISA_FIRST))
    auto["gi_star_z"] = [z for z, _ in GI_FIRST] + [0.1] * (n - len(GI_FIRST))
    auto["gi_star_p"] = [p for _, p in GI_FIRST] + [0.9] * (n - len(GI_FIRST))
    scan_subjects = subjects.copy()
    scan_subjects["scan_cluster"] = pd.array([1] * 10 + [None] * (n - 10), dtype="Int64")
    centres = subjects.geometry.iloc[[0, 50]]
    clusters = gpd.GeoDataFrame(
        {
            "rank": [1, 2],
            "centre_x": centres.x.to_numpy(),
            "centre_y": centres.y.to_numpy(),
            "n": [30, 6],
            "cases": [20, 4],
            "expected": [10.0, 2.0],
            "relative_risk": [2.6, 2.1],
            "llr": [9.5, 2.2],
            "p_value": [0.004, 0.61],
            "subject_ids": ["S001, S002", "S051"],
            "significant": [True, False],
        },
        geometry=[centres.iloc[0].buffer(400), centres.iloc[1].buffer(150)],
        crs=subjects.crs,
    )
    minx, miny, maxx, maxy = results.layers["area"].total_bounds
    xs = np.linspace(minx, maxx, 11)
    ys = np.linspace(miny, maxy, 11)
    cells = [shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for j in range(10) for i in range(10)]
    log_rr = np.linspace(-1.0, 2.0, 100)
    grid = gpd.GeoDataFrame(
        {
            "log_rr": log_rr,
            "p_case": 1 / (1 + np.exp(-log_rr)),
            "p_value": np.where(log_rr > 1.5, 0.01, 0.5),
            "significant_high": log_rr > 1.5,
        },
        geometry=cells,
        crs=subjects.crs,
    )
    high = gpd.GeoDataFrame(
        {"area_m2": [1.0e6], "max_log_rr": [2.0]},
        geometry=[shapely.union_all(grid.geometry[grid["significant_high"]].to_numpy())],
        crs=subjects.crs,
    )
    layers = {
        **results.layers,
        "subjects_autocorrelation": auto,
        "scan_clusters": clusters,
        "subjects_scan": scan_subjects,
        "relative_risk_grid": grid,
        "relative_risk_high": high,
    }
    sections = dict(results.sections)
    sections["scan"] = {"clusters": [clusters.drop(columns="geometry").iloc[0].to_dict()]}
    sections["scan"]["clusters"][0]["radius_m"] = 400.0
    return gs.Results(results.study, sections, layers, results.timings, results.provenance)


@cache
def demo_results() -> gs.Results:
    """The demo's access run plus the synthetic step layers (cached; do not mutate)."""
    return with_step_layers(_access_run())


def expected_counts(results: gs.Results) -> dict[str, int]:
    """The number of features each layer-control entry must draw, from the frames."""
    layers = results.layers
    subjects = layers["subjects"]
    access = layers["subjects"]  # the access step's columns are on the subjects layer
    buffer_m = results.sections["settings"]["buffer_m"]
    counts = {
        "Villages (9)": len(layers["area"]),
        "Village names": len(layers["area"]),
        "Share of each village within 2 km of a facility": len(layers["area_coverage"]),
        "Log relative risk (kernel surface)": len(layers["relative_risk_grid"]),
        "Within 2 km of a facility": int((layers["coverage"]["radius_m"] == buffer_m).sum()),
        "Other distance rings": int((layers["coverage"]["radius_m"] != buffer_m).sum()),
        "Facility buffers, 2 km": int((layers["facility_buffers"]["radius_m"] == buffer_m).sum()),
        "Raised relative risk (one-sided, FDR 5 %)": len(layers["relative_risk_high"]),
        "Scan clusters": len(layers["scan_clusters"]),
        "Lines to the nearest facility": len(layers["nearest_lines"]),
        "LISA clusters (two-sided, FDR 5 %)": 8,
        "Gi* hot and cold spots (two-sided, FDR 5 %)": 5,
        "Subjects in a scan cluster": 10,
        "Beyond 2 km of any facility": int((~access["within_buffer"]).sum()),
        f"Controls ({(subjects['status'] == 'control').sum()})": int(
            (subjects["status"] == "control").sum()
        ),
        f"Cases ({(subjects['status'] == 'case').sum()})": int(
            (subjects["status"] == "case").sum()
        ),
        "Heat map of cases": int((subjects["status"] == "case").sum()),
    }
    for kind, n in layers["facilities"]["kind"].value_counts().items():
        counts[f"Facilities: {kind} ({n})"] = int(n)
    return counts
