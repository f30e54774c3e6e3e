"""The bilingual study report (report.html).

- `_page`: `make_report`; `_sections`: its sections; `_risk`: the risk-factor part;
- `_html`: small HTML builders; `_svg`: inline plots; `_text`: the English and Indonesian texts;
- `_indonesian`: Indonesian for the analysis sentences shown in the report.
"""

from __future__ import annotations

from geo_stunting.outputs.report._page import make_report

__all__ = [
    "make_report",
]
