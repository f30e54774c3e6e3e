"""A first run's numba kernels, compiled in a background process (`_compile_ahead`)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import pytest

import geo_stunting as gs
from geo_stunting import _compile_ahead as ahead
from geo_stunting import pipeline

STEPS = ["pattern", "autocorrelation", "areas"]


@pytest.fixture(scope="module")
def study():
    return gs.load_study(gs.demo_study_path())


def _dispatcher(kernel):
    return getattr(importlib.import_module(kernel.module), kernel.name)


def test_a_run_calls_each_kernel_with_the_signature_compiled_ahead(study):
    gs.analyze(study, steps=STEPS, permutations=19)
    for kernel in ahead.KERNELS:
        # the dispatcher's own key for a call: a different one would compile again in the run
        assert ahead._signature(kernel) in _dispatcher(kernel).overloads, kernel.name


def test_a_first_run_loads_every_kernel_from_the_cache_the_background_wrote(study, tmp_path):
    script = (
        "import importlib, json\n"
        "import geo_stunting as gs\n"
        "from geo_stunting import _compile_ahead as ahead\n"
        f"results = gs.analyze(gs.load_study(gs.demo_study_path()), steps={STEPS!r},"
        " permutations=19)\n"
        "counts = {}\n"
        "for k in ahead.KERNELS:\n"
        "    stats = getattr(importlib.import_module(k.module), k.name).stats\n"
        "    counts[k.name] = [sum(stats.cache_hits.values()), sum(stats.cache_misses.values())]\n"
        "print(json.dumps({'counts': counts, 'results': results.to_json()}))\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), ahead.ENV_SWITCH: "1"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for name, (hits, misses) in report["counts"].items():
        assert (hits, misses) == (1, 0), name  # loaded, never compiled by the run itself
    # in the empty cache, the background process wrote each kernel's index
    indexes = {p.name.split("-")[0] for p in (tmp_path / "numba").rglob("*.nbi")}
    for kernel in ahead.KERNELS:
        assert f"{kernel.module.rsplit('.', 1)[1]}.{kernel.name}" in indexes
    # and the results are those of a run that compiles in the run itself (steps in step order)
    same = gs.analyze(study, steps=STEPS, permutations=19)
    assert report["results"] == same.to_json()


def test_nothing_starts_when_the_kernels_are_compiled(study):
    gs.analyze(study, steps=STEPS, permutations=19)  # compiled in this process now
    assert ahead.needed(STEPS) == []
    assert ahead.start(STEPS) == []


def test_a_failed_background_process_lets_the_run_compile(monkeypatch, study):
    monkeypatch.setenv(ahead.ENV_SWITCH, "1")  # whatever the machine's load
    monkeypatch.setattr(ahead, "needed", lambda steps: ["scan_pairs", "quadratic_form"])
    monkeypatch.setattr(ahead, "_all_cached", lambda names: False)  # whatever the record says
    monkeypatch.setattr(ahead, "_BOOT", "raise SystemExit(3)")
    assert ahead.start(["pattern"]) == ["scan_pairs", "quadratic_form"]
    background = ahead._running
    assert background is not None
    ahead.wait("scan_pairs")  # returns once the process has ended, not after WAIT_S
    assert background.done["scan_pairs"].is_set()
    assert background.done["quadratic_form"].is_set()
    ahead.close()
    assert ahead._running is None
    assert background.process.returncode == 3


def test_switched_off(monkeypatch):
    monkeypatch.setenv(ahead.ENV_SWITCH, "0")
    monkeypatch.setattr(ahead, "needed", lambda steps: pytest.fail("checked the cache"))
    assert ahead.start(STEPS) == []


def test_steps_run_out_of_order_give_the_same_results(monkeypatch, study):
    plain = gs.analyze(study, permutations=19)
    monkeypatch.setattr(ahead, "start", lambda steps: ["scan_pairs", "quadratic_form"])
    assert pipeline.STEP_NAMES.index("pattern") < pipeline.STEP_NAMES.index("scan")
    ran: list[str] = []
    reordered = gs.analyze(study, permutations=19, progress=lambda name, title: ran.append(name))
    assert ran.index("pattern") > ran.index("scan")  # pattern ran after the steps without kernels
    assert reordered.to_json() == plain.to_json()
    assert list(reordered.layers) == list(plain.layers)
    assert list(reordered.timings) == list(plain.timings)
    for name, layer in plain.layers.items():
        assert layer.equals(reordered.layers[name]), name


def test_a_busy_machine_compiles_in_the_run(monkeypatch):
    monkeypatch.delenv(ahead.ENV_SWITCH, raising=False)
    monkeypatch.setattr(ahead, "needed", lambda steps: ["scan_pairs"])
    monkeypatch.setattr(ahead, "_all_cached", lambda names: False)
    monkeypatch.setattr(ahead.os, "getloadavg", lambda: (64.0, 64.0, 64.0), raising=False)
    assert not ahead.core_free()
    assert ahead.start(["pattern"]) == []
    monkeypatch.setattr(ahead.os, "getloadavg", lambda: (0.0, 0.0, 0.0), raising=False)
    monkeypatch.setattr(ahead.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert not ahead.core_free()  # one core: nothing to run it on
    monkeypatch.setattr(ahead.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert ahead.core_free()
    # just after `pip install` the 1-minute average is about 1: still a core free on two
    monkeypatch.setattr(ahead.os, "getloadavg", lambda: (1.4, 1.0, 0.5), raising=False)
    assert ahead.core_free()
    monkeypatch.setattr(ahead.os, "getloadavg", lambda: (1.6, 1.0, 0.5), raising=False)
    assert not ahead.core_free()


def _background_lines(names, cache):
    root = str(ahead.Path(ahead.__file__).resolve().parent)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", ahead._BOOT, root, *names],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.split(" ")[:2] for line in done.stdout.splitlines()]


def test_the_background_process_reports_cached_kernels_at_once(tmp_path):
    names = ["quadratic_form", "lisa_tail_counts"]  # two small kernels: quick to compile
    assert _background_lines(names, tmp_path) == [["saved", n] for n in names]
    assert _background_lines(names, tmp_path) == [["cached", n] for n in names]
    (tmp_path / "other").mkdir()  # another cache: compiled again
    assert _background_lines(names[:1], tmp_path / "other") == [["saved", names[0]]]


def test_a_kernel_the_background_reported_is_not_sent_again(monkeypatch):
    monkeypatch.setattr(ahead, "_in_cache", set())
    monkeypatch.setattr(ahead, "_compiled_here", lambda kernel: False)
    assert ahead.needed(["pattern"]) == ["scan_pairs", "packed_label_sums"]
    ahead._in_cache.add("scan_pairs")
    assert ahead.needed(["pattern", "autocorrelation"]) == ["packed_label_sums", "quadratic_form"]


def test_a_record_of_the_cached_kernels_spares_the_background_process(tmp_path):
    assert _background_lines(["quadratic_form"], tmp_path) == [["saved", "quadratic_form"]]
    code = (
        "import json\n"
        "from geo_stunting import _compile_ahead as ahead\n"
        "names = ahead.start(['autocorrelation'])\n"
        "started = ahead._running is not None\n"
        "ahead.close()\n"
        "print(json.dumps([names, started, sorted(ahead._believed_cached)]))\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), ahead.ENV_SWITCH: "1"}

    def start():
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        return json.loads(done.stdout.strip().splitlines()[-1])

    assert start() == [[], False, ["quadratic_form"]]  # the record says: in the cache
    (index,) = tmp_path.rglob("*quadratic_form*.nbi")
    os.utime(index, ns=(1, 1))  # numba's index changed since the record: the process checks
    assert start() == [["quadratic_form"], True, []]


def test_a_kernel_the_record_wrongly_says_cached_is_compiled_in_the_background(monkeypatch):
    started = []

    class Background:
        def __init__(self, names):
            started.append(names)
            self.done = {}

    monkeypatch.setattr(ahead, "_Background", Background)
    monkeypatch.setattr(ahead, "_running", None)
    monkeypatch.setattr(ahead, "_believed_cached", {"scan_pairs", "quadratic_form"})
    monkeypatch.setattr(ahead, "_cached_or_unknown", lambda kernel: False)  # e.g. another CPU
    ahead.wait("scan_pairs")
    assert started == [["scan_pairs", "quadratic_form"]]
    assert ahead._believed_cached == set()
    monkeypatch.setattr(ahead, "_running", None)
    monkeypatch.setattr(ahead, "_believed_cached", {"quadratic_form"})
    monkeypatch.setattr(ahead, "_cached_or_unknown", lambda kernel: True)  # as recorded
    ahead.wait("quadratic_form")
    assert started == [["scan_pairs", "quadratic_form"]]  # nothing more started
