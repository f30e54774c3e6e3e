"""The output folder: one run's complete set, never an input destroyed, never two runs mixed."""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from geo_stunting import cli
from geo_stunting.outputs import _folder
from geo_stunting.outputs._folder import OutputFolderError, check_output_folder, output_folder

runner = CliRunner()


def _analyze(study: Path, out: Path, *more: str):
    args = ["analyze", str(study), "--out", str(out), "--permutations", "9", "-q", *more]
    return runner.invoke(cli.app, args)


def test_an_output_folder_that_holds_an_input_is_refused_and_the_input_kept(write_study):
    study = write_study()
    before = {p.name: p.read_bytes() for p in study.parent.iterdir() if p.is_file()}
    result = _analyze(study, study.parent, "--only", "access")
    assert result.exit_code == 2, result.output
    assert "holds the input" in result.output
    assert "choose another --out" in result.output
    after = {p.name: p.read_bytes() for p in study.parent.iterdir() if p.is_file()}
    assert after == before


def test_an_output_folder_that_is_a_file_is_refused_before_the_analysis(write_study, tmp_path):
    target = tmp_path / "results.txt"
    target.write_text("mine")
    result = _analyze(write_study(), target)
    assert result.exit_code == 2
    assert "is a file" in result.output
    assert target.read_text() == "mine"


def test_a_folder_with_files_geo_stunting_did_not_write_is_refused(write_study, tmp_path):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.docx").write_text("years of work")
    result = _analyze(write_study(), out, "--only", "access")
    assert result.exit_code == 2
    assert "did not write (chapter1.docx)" in result.output
    assert (out / "chapter1.docx").read_text() == "years of work"


def test_a_rerun_leaves_only_its_own_files_and_one_run_id_everywhere(write_study, tmp_path):
    study, out = write_study(), tmp_path / "out"
    assert _analyze(study, out).exit_code == 0
    assert (out / "risk_factors_table1.csv").is_file()
    result = _analyze(study, out, "--only", "access", "--seed", "3")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert not any(n.startswith("risk_factors_") for n in names)  # before: left from run 1
    run = json.loads((out / "run.json").read_text())
    results = json.loads((out / "results.json").read_text())
    assert sorted([*run["files"], "run.json"]) == names
    run_id = run["run_id"]
    assert results["run_id"] == run_id
    assert re.fullmatch(r"[0-9a-f]{16}", run_id)
    for page in ("map.html", "report.html"):
        assert f'<meta name="geo-stunting-run-id" content="{run_id}">' in (out / page).read_text()
    assert results["settings"]["seed"] == run["seed"] == 3
    assert run["steps"]["access"]["peak_rss_mib"] > 50  # peak memory of the step, MiB
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_second_concurrent_run_stops_with_a_clear_message(write_study, tmp_path):
    out = tmp_path / "out"
    with output_folder(out, command="geo-stunting analyze first.toml"):
        result = _analyze(write_study(), out, "--only", "access")
    assert result.exit_code == 2
    assert re.search(
        r"another geo-stunting run is writing to .*out \(pid \d+, started .*first\.toml\)",
        result.output,
    )
    assert not out.exists()  # the first run never committed; the second wrote nothing


def test_an_error_while_writing_leaves_the_earlier_run_whole(write_study, tmp_path, monkeypatch):
    from geo_stunting.outputs import _export  # noqa: PLC0415

    study, out = write_study(), tmp_path / "out"
    assert _analyze(study, out, "--only", "access").exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_export, "write_gpkg", full)
    result = _analyze(study, out, "--only", "access", "--seed", "5")
    assert result.exit_code == 2, result.output  # a user's problem, not "a bug in geo_stunting"
    assert "is full" in result.output
    assert "is as it was before it" in result.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_read_only_or_full_disk_is_refused_before_the_analysis(
    write_study, tmp_path, monkeypatch
):
    real_mkdir = Path.mkdir

    def read_only(self, *args, **kwargs):
        if self.name.startswith(".geo_stunting-probe"):
            raise OSError(errno.EROFS, "Read-only file system")
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    problems = check_output_folder(tmp_path / "out")
    assert "is read-only" in str(problems[0])
    monkeypatch.setattr(Path, "mkdir", real_mkdir)

    class Usage:
        free = 10 * 2**20

    monkeypatch.setattr(_folder.shutil, "disk_usage", lambda path: Usage())
    problems = check_output_folder(tmp_path / "out", n_subjects=1000)
    assert re.search(
        r"has 10 MiB free; the outputs of 1,000 subjects need about \d+ MiB", str(problems[0])
    )
    with (
        pytest.raises(OutputFolderError, match="MiB free"),
        output_folder(tmp_path / "out", n_subjects=1000),
    ):
        pass


def test_leftovers_of_a_killed_run_are_cleaned_or_put_back(tmp_path):
    out = tmp_path / "out"
    (tmp_path / ".out.geo_stunting-aaaa.partial").mkdir()
    old = tmp_path / ".out.geo_stunting-bbbb.old"  # killed between the two renames
    old.mkdir()
    (old / "run.json").write_text('{"versions": {"geo_stunting": "0.1.0"}}')
    with output_folder(out) as folder:
        assert (out / "run.json").is_file()  # put back before anything else
        (folder.staging / "run.json").write_text("{}")
        folder.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


_SLOW_RUN = """
import sys, time
from pathlib import Path
from geo_stunting import cli, pipeline

MARKER = Path(sys.argv[1])


def slow(study):
    MARKER.write_text("started")
    time.sleep(600)

pipeline.available_steps()
pipeline.register_step("pattern", title="slow")(slow)
sys.argv = ["geo-stunting", "analyze", sys.argv[2], "--out", sys.argv[3], "-q",
            "--only", "pattern", "--permutations", "9"]
cli.main()
"""


@pytest.mark.parametrize(
    ("sig", "code", "name"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT")]
)
def test_a_signal_during_the_run_leaves_the_earlier_outputs_and_nothing_else(
    write_study, tmp_path, sig, code, name
):
    study, out = write_study(), tmp_path / "out"
    assert _analyze(study, out, "--only", "access").exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    marker = tmp_path / "started"
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_SLOW_RUN), str(marker), str(study), str(out)],
        stderr=subprocess.PIPE,
        text=True,
    )
    while not marker.exists() and proc.poll() is None:  # waits for the step, asserts no time
        time.sleep(0.1)
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert f"interrupted ({name})" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
