"""Maps of very many children: counts per grid cell instead of points, private and public."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

import geo_stunting as gs
from geo_stunting.outputs._masking import public_layers
from geo_stunting.outputs.map import _data
from geo_stunting.outputs.map._bins import cell_side_m, grid_counts
from geo_stunting.outputs.map._data import build_map_data
from geo_stunting.outputs.map._layers import MapContext
from geo_stunting.outputs.map._render import map_html, render_map
from tests.map_fixture import demo_results

CRS = "EPSG:32748"


@pytest.fixture(scope="module")
def results() -> gs.Results:
    return demo_results()


def _ctx(results: gs.Results, *, public: bool = False) -> MapContext:
    return MapContext(buffer_m=2000.0, online=False, public=public, sections=results.sections)


def _column(table: dict, name: str) -> list:
    values = next(c for c in table["columns"] if c["name"] == name)["values"]
    return values if isinstance(values, list) else [values["c"][k] for k in values["k"]]


def test_grid_counts_by_hand() -> None:
    # cells of 1 km: (0, 0) holds a case and a control, (1, 0) one case, (-1, 2) a control
    points = gpd.GeoDataFrame(
        {
            "status": ["case", "control", "case", "control"],
            "within_buffer": [True, False, True, False],
        },
        geometry=shapely.points([(10, 20), (999, 999), (1000, 0), (-0.5, 2500)]),
        crs=CRS,
    )
    grid = grid_counts(points, side_m=1000)
    assert grid is not None
    got = {
        tuple(round(v) for v in g.bounds): (s, c, k, b)
        for g, s, c, k, b in zip(
            grid.geometry,
            grid["subjects"],
            grid["cases"],
            grid["controls"],
            grid["beyond_buffer"],
            strict=True,
        )
    }
    assert got == {
        (0, 0, 1000, 1000): (2, 1, 1, 1),
        (1000, 0, 2000, 1000): (1, 1, 0, 0),
        (-1000, 2000, 0, 3000): (1, 0, 1, 1),
    }
    assert grid["share_cases_pct"].tolist() == [0.0, 50.0, 100.0]  # cells in (x, y) order
    assert set(grid["cell"]) == {"1 km"}
    assert grid.crs == CRS


def test_missing_points_are_not_counted() -> None:
    points = gpd.GeoDataFrame(
        {"status": ["case", "case"]}, geometry=[shapely.Point(5, 5), None], crs=CRS
    )
    grid = grid_counts(points, side_m=100)
    assert grid is not None
    assert grid["subjects"].tolist() == [1]
    assert grid_counts(points.iloc[[1]]) is None


@pytest.mark.parametrize(
    ("bounds", "side"),
    [
        ((0, 0, 60_000, 60_000), 500.0),  # the access benchmark's 60 km square: 120 × 120
        ((0, 0, 5_000_000, 2_000_000), 20_000.0),  # Indonesia's extent: 250 × 100
        ((0, 0, 0, 0), 100.0),  # one point: the smallest cell
    ],
)
def test_cell_side_keeps_the_grid_under_its_limit(bounds, side) -> None:
    assert cell_side_m(bounds) == side
    width, height = max(bounds[2] - bounds[0], 1), max(bounds[3] - bounds[1], 1)
    assert np.ceil(width / side) * np.ceil(height / side) <= 40_000


def test_a_map_above_the_limit_draws_cells_not_children(results, monkeypatch) -> None:
    monkeypatch.setattr(_data, "MAP_POINTS_MAX", 200)  # the demo has 201 children
    data = build_map_data(results.layers, _ctx(results))
    titles = [g["title"] for g in data.groups]
    assert not [t for t in titles if t.startswith(("Cases (", "Controls ("))]
    assert "Heat map of cases" not in titles
    assert "Lines to the nearest facility" not in titles  # they join children's points
    assert "nearest_lines" not in data.tables
    grid = data.tables["subjects_grid"]
    assert sum(_column(grid, "subjects")) == 201
    assert sum(_column(grid, "cases")) == 67
    assert sum(_column(grid, "controls")) == 134
    cells = [g for g in data.groups if g["layer"] == "subjects_grid"]
    assert [g["title"] for g in cells] == ["Cases per 100 m cell", "Children per 100 m cell"]
    assert [g["show"] for g in cells] == [True, False]
    # a few highlighted children (beyond the buffer, LISA, Gi*, scan members) are still drawn,
    # and only they are sent
    highlights = [g for g in data.groups if g["table"] == "subjects"]
    assert {g["title"] for g in highlights if g["layer"] == "subjects"} == {
        "Beyond 2 km of any facility"
    }
    assert {g["layer"] for g in highlights} == {
        "subjects",
        "subjects_autocorrelation",
        "subjects_scan",
    }
    assert max(g["n"] for g in highlights) <= data.tables["subjects"]["n"] < 201
    assert data.binned.startswith("201 children, more than the 200")
    html = map_html(render_map(results.layers, results.sections))
    assert 'id="gs-binned"' in html


def test_a_map_at_the_limit_still_draws_every_child(results, monkeypatch) -> None:
    monkeypatch.setattr(_data, "MAP_POINTS_MAX", 201)
    data = build_map_data(results.layers, _ctx(results))
    assert "subjects_grid" not in data.tables
    assert data.tables["subjects"]["n"] == 201
    assert data.binned == ""


def test_the_public_map_counts_masked_points_only(results, monkeypatch) -> None:
    monkeypatch.setattr(_data, "MAP_POINTS_MAX", 200)
    masked, report = public_layers(results.layers, seed=9)
    data = build_map_data(masked, _ctx(results, public=True))
    grid = data.tables["subjects_grid"]
    public = grid_counts(masked["subjects"])
    private = grid_counts(results.layers["subjects"], side_m=float(public["cell_m"].iloc[0]))
    assert public is not None
    assert private is not None
    # the cells are those of the masked points, never of the homes
    assert _column(grid, "subjects") == public["subjects"].tolist()
    assert _column(grid, "cases") == public["cases"].tolist()
    assert sum(_column(grid, "subjects")) == len(masked["subjects"])
    home_cells = set(shapely.to_wkb(private.geometry.normalize()))
    masked_cells = set(shapely.to_wkb(public.geometry.normalize()))
    assert home_cells != masked_cells
    # corners on multiples of the side: no cell is placed from a point's own coordinates
    side = float(public["cell_m"].iloc[0])
    corners = shapely.get_coordinates(public.geometry.to_numpy())
    assert np.allclose(corners / side, np.round(corners / side))
    columns = {c["name"] for t in data.tables.values() for c in t["columns"]}
    assert not columns & {"subject_id", "distance_m", "source_row", "nearest_facility_id"}
    html = map_html(render_map(masked, results.sections, masking=report))
    assert "Public version" in html
    assert 'id="gs-binned"' in html


def test_simplifying_the_grid_would_change_nothing(results) -> None:
    # map data does not simplify the count grid's cells: simplifying them gives the same squares
    grid = grid_counts(results.layers["subjects"], side_m=100.0)
    assert grid is not None
    geoms = grid.geometry.reset_index(drop=True)
    simplified = _data._simplified(geoms, _data.SIMPLIFY_M)
    assert shapely.equals_exact(simplified.to_numpy(), geoms.to_numpy(), tolerance=0).all()
    assert (shapely.get_num_coordinates(geoms.to_numpy()) == 5).all()
