"""A SYNTHETIC district-sized study in the real Ogan Ilir boundaries, built at run time.

Nothing here is shipped: the study is written to a folder from the shared
boundary files (``../shared/data/ogan_ilir`` by default, or ``--data``), with
a fixed seed, so every run times the same study. No real child or facility
is represented.

* children live in settlements: each village gets one to three settlement
  centres, and a child's home is drawn around one of them (normal, sd 400 m)
  and kept only if it falls inside its village;
* a fifth of the children are cases; the odds of being a case are higher in a
  few villages (prevalence differs between villages, as it does) and near a
  hidden hotspot;
* 447 health facilities: one puskesmas in each of the 16 districts, the rest
  posyandu spread over the villages.

``area="villages"`` uses the 241 village polygons as the study area (the
district study); ``area="regency"`` the single regency polygon (the field
study of a few hundred children).
"""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["DEFAULT_DATA", "write_district_study"]


def _default_data() -> Path:
    """The first ``shared/data/ogan_ilir`` beside this checkout or one of its parents."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "data" / "ogan_ilir"
        if candidate.is_dir():
            return candidate
    return Path("shared/data/ogan_ilir")


DEFAULT_DATA = _default_data()
N_FACILITIES = 447
CASE_SHARE = 0.2
SETTLEMENT_SD_M = 400.0
UTM = "EPSG:32748"


def _homes(
    villages: gpd.GeoDataFrame, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """`n` home points (UTM) and the row of the village each lies in."""
    geoms = np.asarray(villages.geometry.array)
    areas = shapely.area(geoms)
    centres: list[tuple[float, float, int]] = []
    for row, geom in enumerate(geoms):
        for _ in range(int(rng.integers(1, 4))):
            minx, miny, maxx, maxy = geom.bounds
            for _attempt in range(200):
                x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
                if shapely.contains_xy(geom, x, y):
                    centres.append((x, y, row))
                    break
    centre_xy = np.array([(c[0], c[1]) for c in centres])
    centre_row = np.array([c[2] for c in centres])
    # villages draw children in proportion to the square root of their area
    weight = np.sqrt(areas[centre_row])
    weight /= weight.sum()
    xy = np.empty((n, 2))
    rows = np.empty(n, dtype=np.int64)
    done = 0
    while done < n:
        batch = max(256, 2 * (n - done))
        pick = rng.choice(len(centres), size=batch, p=weight)
        cand = centre_xy[pick] + rng.normal(0.0, SETTLEMENT_SD_M, size=(batch, 2))
        inside = shapely.contains_xy(geoms[centre_row[pick]], cand[:, 0], cand[:, 1])
        take = np.flatnonzero(inside)[: n - done]
        xy[done : done + len(take)] = cand[take]
        rows[done : done + len(take)] = centre_row[pick[take]]
        done += len(take)
    return xy, rows


def _status(xy: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Case (True) or control, a fifth cases, more in some villages and near a hotspot."""
    village_effect = rng.normal(0.0, 0.6, size=rows.max() + 1)[rows]
    hotspot = xy[rng.integers(len(xy))]
    near = np.hypot(*(xy - hotspot).T) < 3000.0
    score = village_effect + 1.0 * near + rng.gumbel(size=len(xy)) - rng.gumbel(size=len(xy))
    n_cases = round(CASE_SHARE * len(xy))
    is_case = np.zeros(len(xy), dtype=bool)
    is_case[np.argsort(-score, kind="stable")[:n_cases]] = True
    return is_case


def _facilities(
    villages: gpd.GeoDataFrame, rng: np.random.Generator
) -> tuple[np.ndarray, list[str], list[str]]:
    xy, rows = _homes(villages, N_FACILITIES, rng)
    districts = villages["nama_kec"].to_numpy()[rows]
    kinds, names = [], []
    seen: set[str] = set()
    for k, district in enumerate(districts):
        if district not in seen:
            seen.add(district)
            kinds.append("puskesmas")
            names.append(f"Puskesmas {district} (synthetic)")
        else:
            kinds.append("posyandu")
            names.append(f"Posyandu {k + 1:03d} (synthetic)")
    return xy, kinds, names


def write_district_study(
    out: Path,
    *,
    n_children: int,
    seed: int = 13,
    area: str = "villages",
    permutations: int = 999,
    data: Path = DEFAULT_DATA,
) -> Path:
    """Write a synthetic study of `n_children` in Ogan Ilir to `out`; return its study file.

    Parameters
    ----------
    out
        Folder to write ``study.toml``, ``subjects.csv`` and ``facilities.csv`` to.
    n_children
        Number of children (a fifth of them cases).
    seed
        Seed of every random draw: the same seed writes the same files.
    area
        ``"villages"`` (241 village polygons) or ``"regency"`` (one polygon).
    permutations
        ``permutations`` written to ``[analysis]``.
    data
        Folder of the shared Ogan Ilir boundary files.
    """
    villages = gpd.read_file(data / "ogan_ilir_desa.geojson").to_crs(UTM)
    rng = np.random.default_rng(seed)
    xy, rows = _homes(villages, n_children, rng)
    is_case = _status(xy, rows, rng)
    fxy, kinds, names = _facilities(villages, rng)
    out.mkdir(parents=True, exist_ok=True)
    lonlat = gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=UTM).to_crs(4326)
    lon, lat = lonlat.x.to_numpy(), lonlat.y.to_numpy()
    village_names = villages["nama"].to_numpy()[rows]
    with (out / "subjects.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "village", "status", "lon", "lat"])
        for k in range(n_children):
            writer.writerow(
                [
                    f"C{k + 1:06d}",
                    village_names[k],
                    "case" if is_case[k] else "control",
                    f"{lon[k]:.6f}",
                    f"{lat[k]:.6f}",
                ]
            )
    f_lonlat = gpd.GeoSeries(gpd.points_from_xy(fxy[:, 0], fxy[:, 1]), crs=UTM).to_crs(4326)
    flon, flat = f_lonlat.x.to_numpy(), f_lonlat.y.to_numpy()
    with (out / "facilities.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name", "type", "lon", "lat"])
        for k in range(len(fxy)):
            writer.writerow(
                [
                    f"F{k + 1:04d}",
                    names[k],
                    kinds[k],
                    f"{flon[k]:.6f}",
                    f"{flat[k]:.6f}",
                ]
            )
    boundary = "ogan_ilir_desa.geojson" if area == "villages" else "ogan_ilir_kabupaten.geojson"
    study = out / "study.toml"
    study.write_text(
        "# SYNTHETIC district study (not real children), written by benchmarks/district_study.py\n"
        "[study]\n"
        f'name = "Ogan Ilir district (synthetic, {n_children} children, {area})"\n\n'
        "[subjects]\n"
        'path = "subjects.csv"\nid = "id"\nx = "lon"\ny = "lat"\ncrs = "EPSG:4326"\n'
        'status = "status"\ncase = ["case"]\ncontrol = ["control"]\nstratum = "village"\n\n'
        "[facilities]\n"
        'path = "facilities.csv"\nid = "id"\nname = "name"\nkind = "type"\nx = "lon"\ny = "lat"\n\n'
        "[area]\n"
        f'path = "{(data / boundary).resolve().as_posix()}"\nname = "nama"\n\n'
        "[analysis]\n"
        f'crs = "auto"\nbuffer_m = 2000\npermutations = {permutations}\nseed = {seed}\n',
        encoding="utf-8",
    )
    return study
