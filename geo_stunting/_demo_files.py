"""Where the bundled demo studies live: one place for the loaders and the ``geo-stunting`` entry.

Standard library only: the entry (`geo_stunting._launch`) looks the demo up
before it imports anything else.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["demo_study_file"]


def demo_study_file(folder: str) -> Path | None:
    """The ``study.toml`` of demo `folder` (``"demo"``, ``"demo_areas"``), or None if not installed.

    An installed wheel has it as ``geo_stunting/_<folder>``; a source checkout as
    ``data/<folder>`` beside the package.

    >>> demo_study_file("demo").name
    'study.toml'
    """
    here = Path(__file__).resolve().parent  # the geo_stunting package
    for candidate in (here / f"_{folder}", here.parent / "data" / folder):
        if (candidate / "study.toml").is_file():
            return candidate / "study.toml"
    return None
