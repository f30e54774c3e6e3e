"""How columns appear in popups: labels and display formats.

Formats: ``m`` (metres), ``m2`` (area), ``pct`` (0–100), ``p`` (p-value),
``bool``, ``int``, ``num`` and ``text``; the page formats values with them
and `geo_stunting.outputs.map._data` rounds numbers to what they show.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["COLUMN_FORMATS", "COLUMN_LABELS", "column_format", "column_label"]

COLUMN_LABELS: dict[str, str] = {
    "subject_id": "Subject",
    "status": "Status",
    "stratum": "Village",
    "source_row": "Row in the input file",
    "name": "Name",
    "kind": "Kind",
    "facility_id": "Facility id",
    "radius_m": "Radius",
    "distance_m": "Distance to the nearest facility",
    "nearest_facility_id": "Nearest facility id",
    "nearest_facility_name": "Nearest facility",
    "nearest_facility_kind": "Nearest facility kind",
    "within_buffer": "Within reach (buffer)",
    "covered_pct": "Share within reach",
    "area_m2": "Area",
    "covered_m2": "Area within reach",
    "lisa_label": "LISA cluster",
    "lisa_p": "LISA p (permutation, two-sided)",
    "lisa_p_fdr": "LISA p (FDR-adjusted)",
    "lisa_label_uncorrected": "LISA cluster (uncorrected)",
    "gi_star_label": "Gi* spot (FDR 5 %)",
    "gi_star_label_uncorrected": "Gi* spot (uncorrected)",
    "gi_star_p_fdr": "Gi* p (FDR-adjusted)",
    "lisa_I": "Local Moran's I",
    "gi_star_z": "Gi* z",
    "gi_star_p": "Gi* p",
    "gi_star_p_sim": "Gi* p (permutation, two-sided)",
    "scan_cluster": "Scan cluster",
    "rank": "Cluster rank",
    "n": "Subjects",
    "cases": "Cases",
    "expected": "Expected cases",
    "relative_risk": "Relative risk",
    "observed_expected": "Observed / expected",
    "llr": "Log-likelihood ratio",
    "p_value": "p-value",
    "log_rr": "Log relative risk",
    "p_case": "Probability of a case",
    "max_log_rr": "Highest log relative risk",
}

#: Display formats: m (metres), m2 (area), pct (0–100), p (p-value), bool, int, num, text.
COLUMN_FORMATS: dict[str, str] = {
    "covered_pct": "pct",
    "lisa_p": "p",
    "gi_star_p": "p",
    "gi_star_p_sim": "p",
    "lisa_p_fdr": "p",
    "gi_star_p_fdr": "p",
    "p_value": "p",
    "expected": "num",
    "source_row": "int",
}


def column_format(name: str, dtype: Any) -> str:
    """The display format of a column from its name and dtype."""
    if name in COLUMN_FORMATS:
        return COLUMN_FORMATS[name]
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        if name.endswith("_m2"):
            return "m2"
        if name.endswith("_m"):
            return "m"
        if name.endswith("_pct"):
            return "pct"
        return "int" if pd.api.types.is_integer_dtype(dtype) else "num"
    return "text"


def column_label(name: str) -> str:
    """The popup label of a column (its name when not known)."""
    return COLUMN_LABELS.get(name, name)
