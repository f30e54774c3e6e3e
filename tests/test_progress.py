"""Progress reporting is silent by default and reaches an installed reporter."""

from __future__ import annotations

from contextlib import contextmanager

from geo_stunting.progress import progress, use_reporter


def test_silent_without_reporter():
    with progress("loop", total=3) as advance:
        for _ in range(3):
            advance(1)


def test_reporter_receives_totals_and_advances():
    seen: list[tuple[str, int]] = []
    done: list[int] = []

    @contextmanager
    def reporter(description, total):
        seen.append((description, total))
        yield done.append

    with use_reporter(reporter), progress("scan: replications", total=999) as advance:
        advance(500)
        advance(499)
    assert seen == [("scan: replications", 999)]
    assert sum(done) == 999
    with progress("after", total=1) as advance:  # the reporter is gone again
        advance(1)
    assert len(seen) == 1
