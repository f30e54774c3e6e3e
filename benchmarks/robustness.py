"""Chaos run: crash, kill, signal, fill the disk and race two runs; check nothing was lost.

Every case runs the real command line (``python -m geo_stunting analyze``) in a
separate process on a copy of the synthetic demo study (``--only access`` to
keep it short), into an output folder that already holds a complete earlier
run. After each case the output folder must be exactly one run's complete
set — the earlier one, or the new one — and nothing else may be left beside
it (no staging folder, no lock file) once the next run has started:

* every file listed in ``run.json → files`` exists with that size and SHA-256,
  and no other file is there;
* ``results.json``, ``run.json``, ``map.html`` and ``report.html`` carry the
  same run id.

Cases: SIGKILL / SIGTERM / SIGINT while the analysis runs, SIGKILL / SIGTERM
while the files are written, SIGKILL between the two renames of the swap, an
exception while writing, a full disk (a real 1.5×-sized tmpfs mounted with
``mount -t tmpfs`` when run as root; otherwise ENOSPC raised by a patched
write — the report says which), and two runs started together.
The slow phases are made slow by wrapping functions in the child process
(the product has no chaos hooks).

    python benchmarks/robustness.py
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from geo_stunting.study._demo import demo_study_path

_CHILD = """
import sys, time, errno
from pathlib import Path
phase, marker, study, out = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
from geo_stunting import cli, pipeline
from geo_stunting.outputs import _export, _folder

def pause(what):
    marker.write_text(what)
    time.sleep(300)

if phase == "analysis":
    pipeline.available_steps()
    real = pipeline._REGISTRY["access"].func
    def slow(s):
        pause("analysis")
        return real(s)
    pipeline.register_step("access", title="slow")(slow)
elif phase == "writing":
    real_gpkg = _export.write_gpkg
    def slow_gpkg(*a, **k):
        real_gpkg(*a, **k)
        pause("writing")
    _export.write_gpkg = slow_gpkg
elif phase == "swap":  # right after the folders traded places (or the first rename)
    real_exchange, real_rename = _folder.exchange, Path.rename
    def slow_exchange(a, b):
        done = real_exchange(a, b)
        if done:
            pause("swap")
        return done
    def slow_rename(self, target):
        result = real_rename(self, target)
        if str(target).endswith(".old") and Path(str(self)).name == Path(out).name:
            pause("swap")
        return result
    _folder.exchange, Path.rename = slow_exchange, slow_rename
elif phase == "crash":
    def broken(*a, **k):
        raise RuntimeError("simulated crash while writing layers.gpkg")
    _export.write_gpkg = broken
elif phase == "fill":  # another process fills the disk after the checks passed
    real_gpkg = _export.write_gpkg
    def fill_then_write(*a, **k):
        with marker.open("wb") as filler:
            try:
                while True:
                    filler.write(b"x" * (1 << 20))
                    filler.flush()
            except OSError:
                pass
        return real_gpkg(*a, **k)
    _export.write_gpkg = fill_then_write
elif phase == "enospc":
    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    _export.write_gpkg = full
sys.argv = ["geo-stunting", "analyze", study, "--out", out, "-q", "--only", "access",
            "--seed", sys.argv[5]]
cli.main()
"""


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify(out: Path) -> tuple[bool, str]:
    """Is `out` exactly one run's complete set? Returns (ok, run id or what is wrong)."""
    if not out.is_dir():
        return False, "no output folder"
    try:
        run = json.loads((out / "run.json").read_text(encoding="utf-8"))
        results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return False, f"run.json/results.json unreadable: {exc}"
    listed = run.get("files", {})
    present = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {"run.json"}
    if present != set(listed):
        return False, f"files differ from run.json: {sorted(present ^ set(listed))}"
    for name, record in listed.items():
        path = out / name
        if path.stat().st_size != record["bytes"] or _sha(path) != record["sha256"]:
            return False, f"{name} does not match run.json"
    run_id = run.get("run_id")
    if results.get("run_id") != run_id:
        return False, "results.json and run.json have different run ids"
    for page in ("map.html", "report.html"):
        if f'content="{run_id}"' not in (out / page).read_text(encoding="utf-8"):
            return False, f"{page} has another run id"
    return True, f"run {run_id} (seed {run.get('seed')})"


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def _child(phase: str, marker: Path, study: Path, out: Path, seed: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_CHILD), phase, str(marker), str(study), str(out),
         str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _wait_for(marker: Path, proc: subprocess.Popen[str]) -> bool:
    while not marker.exists():
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return True


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:110] if lines else ""


def _kill_case(
    name: str, phase: str, sig: signal.Signals, study: Path, out: Path, work: Path
) -> dict[str, Any]:
    marker = work / f"marker-{name}"
    proc = _child(phase, marker, study, out, seed=99)
    reached = _wait_for(marker, proc)
    if reached:
        os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=300)
    left_by_kill = _leftovers(out)
    ok, what = verify(out)
    return {
        "case": name,
        "exit": proc.returncode,
        "message": _last_line(err),
        "left right after": left_by_kill,
        "folder": what,
        "ok": ok and reached,
    }


def _run(study: Path, out: Path, seed: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "geo_stunting", "analyze", str(study), "--out", str(out), "-q",
         "--only", "access", "--seed", str(seed)],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip


def _disk_full(study: Path, work: Path, size: int) -> dict[str, Any]:
    mount = work / "tiny"
    mount.mkdir()
    size_k = int((64 * 2**20 + 3 * size) / 1024)  # room for the checks and for one run
    mounted = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_k}k", "tmpfs", str(mount)],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    try:
        out = mount / "out"
        shutil.copytree(work / "out", out)
        if mounted:
            how = f"a real {size_k:,} KiB tmpfs, filled by another process during the run"
            proc = _child("fill", mount / "filler", study, out, seed=2)
        else:
            how = "ENOSPC raised by a patched write (not root, or mount failed)"
            proc = _child("enospc", work / "marker-enospc", study, out, seed=2)
        _, err = proc.communicate(timeout=300)
        (mount / "filler").unlink(missing_ok=True)
        ok, what = verify(out)
        return {
            "case": "disk full while writing",
            "exit": proc.returncode,
            "message": _last_line(err),
            "left right after": _leftovers(out),
            "folder": f"{what}; {how}",
            "ok": ok and proc.returncode == 2,
        }
    finally:
        if mounted:
            subprocess.run(["umount", str(mount)], check=False)


def _race(study: Path, out: Path, work: Path) -> dict[str, Any]:
    marker_a, marker_b = work / "marker-race-a", work / "marker-race-b"
    a = _child("writing", marker_a, study, out, seed=11)
    _wait_for(marker_a, a)
    b = _child("none", marker_b, study, out, seed=12)
    _, err_b = b.communicate(timeout=300)
    os.kill(a.pid, signal.SIGTERM)
    a.communicate(timeout=300)
    ok, what = verify(out)
    return {
        "case": "second run while the first writes",
        "exit": b.returncode,
        "message": _last_line(err_b),
        "left right after": _leftovers(out),
        "folder": what,
        "ok": ok and b.returncode == 2 and "another geo-stunting run" in err_b,
    }


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="gs-chaos-"))
    study_dir = work / "study"
    shutil.copytree(demo_study_path().parent, study_dir)
    study = study_dir / "study.toml"
    out = work / "out"
    first = _run(study, out, seed=1)
    ok, baseline = verify(out)
    if first.returncode != 0 or not ok:
        print("the baseline run failed:", first.stderr, baseline)
        return 1
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    rows = []
    for name, phase, sig in (
        ("SIGKILL during the analysis", "analysis", signal.SIGKILL),
        ("SIGTERM during the analysis", "analysis", signal.SIGTERM),
        ("SIGINT during the analysis", "analysis", signal.SIGINT),
        ("SIGKILL while writing files", "writing", signal.SIGKILL),
        ("SIGTERM while writing files", "writing", signal.SIGTERM),
        ("SIGKILL during the swap", "swap", signal.SIGKILL),
    ):
        rows.append(_kill_case(name, phase, sig, study, out, work))
    crash = _child("crash", work / "marker-crash", study, out, seed=5)
    _, err = crash.communicate(timeout=300)
    ok, what = verify(out)
    rows.append({"case": "exception while writing", "exit": crash.returncode,
                 "message": _last_line(err), "left right after": _leftovers(out),
                 "folder": what, "ok": ok and crash.returncode == 1})  # fmt: skip
    rows.append(_race(study, out, work))
    rows.append(_disk_full(study, work, size))
    after = _run(study, out, seed=3)
    ok, what = verify(out)
    rows.append({"case": "a normal run afterwards", "exit": after.returncode,
                 "message": "", "left right after": _leftovers(out), "folder": what,
                 "ok": ok and after.returncode == 0 and not _leftovers(out)})  # fmt: skip
    print(f"baseline: {baseline}; outputs {size / 1024:,.0f} KiB; work folder {work}\n")
    for row in rows:
        mark = "ok  " if row["ok"] else "LOST"
        print(f"{mark} {row['case']}: exit {row['exit']}; folder holds {row['folder']}")
        if row["left right after"]:
            print(f"     left beside it until the next run: {', '.join(row['left right after'])}")
        if row["message"]:
            print(f"     said: {row['message']}")
    lost = [row["case"] for row in rows if not row["ok"]]
    print(
        "\nnothing was lost: every case left one run's complete set"
        if not lost
        else f"\nLOST in: {', '.join(lost)}"
    )
    shutil.rmtree(work, ignore_errors=True)
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
