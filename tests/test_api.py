"""The public API: every name the package root offered before the layout move, one vocabulary.

The names below are those `import geo_stunting as gs` offered before the package was split into
subpackages (issue 16); each must still resolve. The vocabulary tests check that the statistics
take the same ``status=``/``case=`` arguments, a libpysal ``Graph`` as well as a ``W``, and a plain
polygon or GeoSeries as window, and that each gives the same answer as the package's own types.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from libpysal.graph import Graph
from libpysal.weights import KNN

import geo_stunting as gs
from tests.pattern_fixture import fixture_subjects, fixture_window, shared_mask

PUBLIC_BEFORE_LAYOUT = [
    "STEP_NAMES",
    "AccessComparison",
    "AnalysisError",
    "AnalysisSettings",
    "GeoStuntingError",
    "InputError",
    "MaskingReport",
    "Problem",
    "ProjectionError",
    "PublicOptions",
    "RelativeRiskResult",
    "Results",
    "ScaleResult",
    "ScanCluster",
    "ScanResult",
    "StepOutput",
    "Study",
    "StudyFileError",
    "__version__",
    "access_dask",
    "analyze",
    "analyze_risk_factors",
    "area_coverage",
    "available_steps",
    "average_nearest_neighbour",
    "build_neighbours",
    "choose_analysis_crs",
    "clark_evans",
    "compare_access",
    "coverage",
    "coverage_polygons",
    "cuzick_edwards",
    "demo_study_path",
    "donut_mask",
    "envelope",
    "facility_buffers",
    "g_function",
    "getis_ord",
    "join_counts",
    "k_difference",
    "k_function",
    "load_study",
    "local_moran",
    "make_map",
    "make_report",
    "make_window",
    "map_html",
    "moran",
    "nearest_facility",
    "public_layers",
    "read_outputs",
    "read_study_file",
    "register_step",
    "relative_risk_surface",
    "render_map",
    "risk_factor_tables_csv",
    "run_scale",
    "scale_results",
    "scan_bernoulli",
    "scan_bernoulli_xy",
    "study_from_frames",
    "utm_crs_for",
    "write_map",
    "write_outputs",
]

PACKAGE = Path(gs.__file__).parent


@pytest.mark.parametrize("name", PUBLIC_BEFORE_LAYOUT)
def test_public_name_still_resolves(name: str) -> None:
    assert name in gs.__all__
    assert getattr(gs, name) is not None


def test_subpackages_reexport_their_public_names() -> None:
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="geo_stunting."):
        if not info.ispkg:
            continue
        module = importlib.import_module(info.name)
        assert module.__doc__, f"{info.name} has no docstring saying what lives there"
        for name in getattr(module, "__all__", []):
            assert getattr(module, name) is not None, (info.name, name)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Modules that `path` imports; ``from pkg import submodule`` imports the submodule."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("geo_stunting"):
            module = str(node.module)
            subs = {f"{module}.{alias.name}" for alias in node.names} & modules
            found.update(subs or {module})
    return found


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_import_cycle_between_modules() -> None:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    names = set(files)
    # a module's own parent packages are always initialised before it: not an edge
    graph = {
        name: {m for m in _imports(path, names) if m in names and not name.startswith(m + ".")}
        for name, path in files.items()
    }
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycle = [*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt]
                pytest.fail(f"import cycle: {' -> '.join(cycle)}")
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [name])


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "geo_stunting", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "analyze" in done.stdout


def test_package_ships_py_typed() -> None:
    assert (PACKAGE / "py.typed").is_file()


# --------------------------------------------------------------------------- one vocabulary

SUBJECTS = fixture_subjects()
WINDOW = fixture_window(SUBJECTS)


def _recoded():
    """The fixture with status held as 1/0 in a column called ``stunted``."""
    out = SUBJECTS.drop(columns="status")
    out["stunted"] = np.where(SUBJECTS["status"] == "case", "1", "0")
    return out


def test_status_and_case_arguments_give_the_same_answers() -> None:
    nb = gs.build_neighbours(SUBJECTS, weights="knn:5")
    other = _recoded()
    kwargs = {"status": "stunted", "case": "1"}
    assert (
        gs.moran(other, neighbours=nb, permutations=99, seed=1, **kwargs).to_dict()
        == gs.moran(SUBJECTS, neighbours=nb, permutations=99, seed=1).to_dict()
    )
    assert (
        gs.join_counts(other, neighbours=nb, permutations=99, seed=1, **kwargs).to_dict()
        == gs.join_counts(SUBJECTS, neighbours=nb, permutations=99, seed=1).to_dict()
    )
    np.testing.assert_array_equal(
        gs.local_moran(other, neighbours=nb, permutations=99, seed=1, **kwargs)["lisa_p"],
        gs.local_moran(SUBJECTS, neighbours=nb, permutations=99, seed=1)["lisa_p"],
    )
    np.testing.assert_array_equal(
        gs.getis_ord(other, neighbours=nb, permutations=99, seed=1, **kwargs)["gi_star_p_sim"],
        gs.getis_ord(SUBJECTS, neighbours=nb, permutations=99, seed=1)["gi_star_p_sim"],
    )
    a = gs.k_difference(other, window=WINDOW, permutations=19, seed=2, **kwargs)
    b = gs.k_difference(SUBJECTS, window=WINDOW, permutations=19, seed=2)
    np.testing.assert_array_equal(a.kdiff, b.kdiff)
    assert a.p_value == b.p_value
    ce_a = gs.cuzick_edwards(other, ks=(1, 3), permutations=49, seed=3, **kwargs)
    ce_b = gs.cuzick_edwards(SUBJECTS, ks=(1, 3), permutations=49, seed=3)
    assert [r.T for r in ce_a] == [r.T for r in ce_b]
    assert [r.p_mc for r in ce_a] == [r.p_mc for r in ce_b]


def test_a_single_case_value_is_never_split_into_characters() -> None:
    other = SUBJECTS.assign(status=SUBJECTS["status"].replace({"case": "c"}))
    nb = gs.build_neighbours(SUBJECTS, weights="knn:5")
    with pytest.raises(gs.AnalysisError, match="needs both cases and controls"):
        gs.moran(other, neighbours=nb, permutations=9, case="case")


def test_missing_status_column_names_the_argument() -> None:
    nb = gs.build_neighbours(SUBJECTS, weights="knn:5")
    with pytest.raises(gs.AnalysisError, match=r"no 'stunted' column.*status="):
        gs.moran(SUBJECTS, neighbours=nb, permutations=9, status="stunted")


def test_graph_and_w_weights_give_the_same_moran() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # libpysal: "not fully connected"
        subjects = SUBJECTS[~shared_mask(SUBJECTS)].reset_index(drop=True)  # kNN needs no ties
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # libpysal: "not fully connected"
        w = KNN.from_dataframe(subjects, k=5)
    g = Graph.build_knn(subjects, k=5)
    by_w = gs.moran(subjects, neighbours=w, permutations=99, seed=5)
    by_graph = gs.moran(subjects, neighbours=g, permutations=99, seed=5)
    assert pytest.approx(by_w.I, rel=1e-12) == by_graph.I
    assert by_graph.p_sim == by_w.p_sim


def test_window_may_be_a_polygon_or_a_geoseries() -> None:
    polygon = WINDOW.geometry
    series = gs.make_window(SUBJECTS, polygon=polygon)
    cases = SUBJECTS[SUBJECTS["status"] == "case"]
    ours = gs.k_function(cases, window=WINDOW)
    by_polygon = gs.k_function(cases, window=polygon)
    by_series = gs.k_function(cases, window=gpd.GeoSeries([polygon], crs=SUBJECTS.crs))
    np.testing.assert_allclose(by_polygon.K["isotropic"], ours.K["isotropic"], rtol=1e-12)
    np.testing.assert_allclose(by_series.K["isotropic"], ours.K["isotropic"], rtol=1e-12)
    assert series.area_m2 == pytest.approx(WINDOW.area_m2)
    ce = gs.clark_evans(cases, window=polygon, permutations=0)
    assert ce.R_naive == pytest.approx(gs.clark_evans(cases, window=WINDOW, permutations=0).R_naive)


def test_window_of_another_crs_is_refused_with_the_fix() -> None:
    other = gpd.GeoSeries([WINDOW.geometry], crs=SUBJECTS.crs).to_crs(4326)
    with pytest.raises(gs.AnalysisError, match="reproject"):
        gs.k_function(SUBJECTS, window=other)
