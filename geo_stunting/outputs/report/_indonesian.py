"""Indonesian for the English sentences that other steps put in ``results.json``.

The report's own sentences are in `geo_stunting.outputs.report._text`; a few
values shown in it are sentences written by the analysis (the CRS choice, why
a test was chosen, model warnings, cluster labels). `indonesian` translates
the known ones, pattern by pattern, so that the Indonesian report has no
English sentence; an unknown text is returned unchanged.
"""

from __future__ import annotations

import re

__all__ = ["PATTERNS", "indonesian"]

_SMALL_GROUP_EN = (
    r"^(\d+) (cases|controls) \(the smaller group\) for (\d+) coefficient\(s\): fewer "
    r"than (\d+) per coefficient, so the adjusted odds ratios may be unstable$"
)
_SMALL_GROUP_ID = (
    r"\1 \2 (kelompok yang lebih kecil) untuk \3 koefisien: kurang dari \4 per koefisien, "
    r"sehingga rasio odds terkoreksi mungkin tidak stabil"
)
#: (English pattern, Indonesian replacement), tried in order; numbers are kept.
PATTERNS: tuple[tuple[str, str], ...] = (
    (
        r"^chosen automatically: the UTM zone of the study centroid \((.*)\)$",
        r"dipilih otomatis: zona UTM dari titik pusat studi (\1)",
    ),
    (r"^given in the study file$", "ditetapkan dalam berkas studi"),
    (
        r"^an expected count is below (\S+) \((\S+)\)$",
        r"ada frekuensi harapan di bawah \1 (\2)",
    ),
    (
        r"^every expected count is at least (\S+)$",
        r"semua frekuensi harapan paling sedikit \1",
    ),
    (_SMALL_GROUP_EN, _SMALL_GROUP_ID),
    (r"^not significant$", "tidak bermakna"),
    (r"^isolate$", "tanpa tetangga"),
)


def indonesian(text: str) -> str:
    """`text` in Indonesian when it is a known analysis sentence, else unchanged.

    >>> indonesian("an expected count is below 5 (1.67)")
    'ada frekuensi harapan di bawah 5 (1.67)'
    >>> indonesian("Fisher exact")
    'Fisher exact'
    """
    for pattern, replacement in PATTERNS:
        out, n = re.subn(pattern, replacement, text)
        if n:
            return out.replace(" cases (", " kasus (").replace(" controls (", " kontrol (")
    return text
