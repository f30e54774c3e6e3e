"""Join a separate respondents table to the subjects by subject id.

Questionnaire answers are often kept apart from the GPS points, one row per
respondent with the child's id. `join_respondents` adds their columns to the
subjects and reports every row that does not join — never dropping one
silently: respondents without a subject (with the reason: no id, a duplicate
id, a subject rejected at validation, an unknown id) and subjects without a
respondent (their factors are then missing, and counted as such).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from geo_stunting.study._readers import read_table
from geo_stunting.study._risk_spec import RESERVED, RespondentsSpec, find_column
from geo_stunting.study._validate import cell_text, to_attributes

__all__ = ["join_respondents"]


def join_respondents(
    subjects: pd.DataFrame, spec: RespondentsSpec, *, rejected_ids: set[str] | None = None
) -> tuple[pd.DataFrame, dict[str, Any], tuple[str, ...]]:
    """Join a respondents table to the subjects by subject id.

    Parameters
    ----------
    subjects
        The study's subjects (``subject_id``).
    spec
        The respondents file and its id column.
    rejected_ids
        Ids of subjects rejected at validation, to say why a respondent has no subject.

    Returns
    -------
    tuple
        The subjects with the respondents' columns (a respondents' column
        replaces a subject column of the same name), the join report
        (``path``, ``id``, ``n_rows``, ``n_joined``, ``respondents_without_subject``
        with row, id and reason, ``subjects_without_respondent``, ``duplicate_ids``)
        and notes. Nothing is dropped: subjects without a respondent row keep
        missing values, and every unjoined row is listed.
    """
    table = read_table(spec.path, sheet=spec.sheet)
    notes: list[str] = list(table.notes)
    columns = [str(c) for c in table.frame.columns]
    id_column = find_column(spec.id, columns, str(spec.path), notes)
    attrs = to_attributes(table.frame)
    ids = [cell_text(v) for v in table.frame[id_column]]
    counts = pd.Series(ids).value_counts()
    duplicates = sorted(str(i) for i, n in counts.items() if n > 1 and i)
    subject_ids = set(subjects["subject_id"].astype(str))
    rejected = rejected_ids or set()
    without_subject = []
    for row, rid in zip(table.rows, ids, strict=True):
        if not rid:
            reason = "no id"
        elif rid in duplicates:
            reason = "id appears more than once in the respondents table; none of its rows is used"
        elif rid in rejected:
            reason = "the subject was rejected at validation (see rejects.csv)"
        elif rid not in subject_ids:
            reason = "no subject has this id"
        else:
            continue
        without_subject.append({"row": int(row), "id": rid, "reason": reason})
    usable = [bool(i) and i not in duplicates and i in subject_ids for i in ids]
    extra = attrs.loc[usable].drop(columns=[id_column])
    extra.index = pd.Index([i for i, u in zip(ids, usable, strict=True) if u])
    replaced = [c for c in extra.columns if c in subjects.columns and c not in RESERVED]
    extra = extra.drop(columns=[c for c in extra.columns if c in RESERVED])
    if replaced:
        notes.append(f"respondents' columns replace the subjects' columns {replaced}")
    joined = subjects.drop(columns=replaced).copy()
    extra_rows = extra.reindex(joined["subject_id"].astype(str).to_numpy())
    for column in extra.columns:
        joined[column] = extra_rows[column].to_numpy()
    missing = sorted(subject_ids - set(extra.index))
    report = {
        "path": str(spec.path),
        "id": id_column,
        "n_rows": len(ids),
        "n_joined": int(sum(usable)),
        "respondents_without_subject": without_subject,
        "subjects_without_respondent": missing,
        "duplicate_ids": duplicates,
    }
    if without_subject or missing:
        notes.append(
            f"respondents: {len(without_subject)} row(s) did not join a subject and "
            f"{len(missing)} subject(s) have no respondent row (their factors are missing); "
            "all are listed in results.json risk_factors.respondents"
        )
    return joined, report, tuple(notes)
