"""Shell completion of the ``geo-stunting`` command (typer/click's completion protocol)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from geo_stunting.cli import app

SCRIPT = Path(sys.executable).with_name("geo-stunting")


def test_show_completion_prints_a_bash_script():
    result = CliRunner().invoke(app, ["--show-completion", "bash"])
    assert result.exit_code == 0
    assert "complete -o default -F _geo_stunting_completion geo-stunting" in result.output


@pytest.mark.skipif(not SCRIPT.is_file(), reason=f"{SCRIPT} is not installed (pip install -e .)")
@pytest.mark.parametrize(
    ("words", "cword", "expected"),
    [
        ("geo-stunting an", 1, "analyze"),
        ("geo-stunting in", 1, "init"),
        ("geo-stunting analyze --se", 2, "--seed"),
    ],
)
def test_bash_completes_commands_and_options(words: str, cword: int, expected: str):
    env = {
        **os.environ,
        "_GEO_STUNTING_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(cword),
    }
    done = subprocess.run(
        [str(SCRIPT)], env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert done.stdout.split() == [expected]
