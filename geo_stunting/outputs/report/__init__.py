"""The multilingual study report (report.html): English, Bahasa Indonesia, any added language.

- `_page`: `make_report`; `_sections`: its sections; `_risk`: the risk-factor part;
- `_html`: small HTML builders; `_svg`: inline plots; `_text`: the longer sentences
  (English message ids); `_i18n`: catalogues, languages, numbers; `_analysis_text`: the
  analysis sentences of results.json shown in the report (translated by pattern);
- `templates/`: the jinja2 page and its blocks, style and script.
"""

from __future__ import annotations

from geo_stunting.outputs.report._page import make_report

__all__ = [
    "make_report",
]
