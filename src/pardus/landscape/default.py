"""The embedded default landscape: a **schematic** of southwest Primorye and the adjacent Chinese
forest (MODEL.md §3), generated from a seed, without any download.

It is not a map. It has the parts the source texts name, where they roughly are, at 1 km cells
on a 100 km (west–east) × 120 km (north–south) grid in UTM zone 52N (EPSG:32652, the zone of
southwest Primorye; the origin is placed near the real area, but nothing is georeferenced to
real features):

* the sea to the east and south — Amur Bay cutting in from the north-east, the open coast
  running south-west — and the international border with China a wavy line in the west, the
  forest continuing across it;
* the coastal highway a few kilometres inland with villages along it and the railway beside it,
  a road from the highway to the border crossing in the south, forest tracks inland;
* three deer farms near the villages;
* the national-park core in the middle of the Russian range with a buffer around it, and along
  its edges the hay meadows and villages whose spring grass burning is the ignition hotspot
  (high human access on flammable grassland and shrubland next to the forest);
* forest types from an elevation gradient rising to the west (Korean pine–broadleaf "mixed"
  forest on the higher ground, Mongolian oak lower and nearer the coast), grassland and
  shrubland near settlements, the coast and the core's edges, farmland on the plains in the
  north-east and around a Chinese town in the south-west, one quarry.

Derived layers: ``human_access`` (1 at settlements, decaying with distance from settlements,
highway, roads, railway and tracks), ``prey_capacity`` by cover and the starting ``prey`` as a
share of it. The values per cover are assumptions with ranges (``PREY_CAPACITY``). To work with
real data, write real layers as GeoTIFFs aligned to one grid (``pardus landscape export`` shows
the expected files, names and codes) and read them with :func:`pardus.landscape.io.read_landscape`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .core import Landscape
from .grid import Grid
from .layers import COVER_CODES, ROAD_CODES, ZONE_CODES, check_layer
from .regions import RegionLayer

COVER = {v: k for k, v in COVER_CODES.items()}
ROAD = {v: k for k, v in ROAD_CODES.items()}
ZONE = {v: k for k, v in ZONE_CODES.items()}

# prey carrying capacity by cover, roe-deer equivalents per km² — assumptions (ranges): mast of
# Korean pine and oak makes forest highest (mixed 15, range 10–20; oak 18, range 12–24),
# shrubland 8 (4–12), grassland 3 (1–6), farmland 1 (0–3); none in settlements, mines and water
PREY_CAPACITY = {"water": 0.0, "mixed_forest": 15.0, "oak_forest": 18.0, "shrubland": 8.0, "grassland": 3.0, "agriculture": 1.0, "settlement": 0.0, "mine": 0.0}
# the starting prey as a share of capacity — assumption (range 0.2–0.5): poaching keeps
# ungulates far below capacity (amur-2015: 4.2 against 15 in Russia)
PREY_START_SHARE = 0.28
# human access: weight of each source and the decay distance (km) — assumptions
ACCESS_SOURCES = {"settlement": 1.0, "highway": 0.9, "road": 0.7, "railway": 0.5, "track": 0.35}
ACCESS_DECAY_KM = 2.5

ORIGIN = (470_000.0, 4_840_000.0)  # top-left corner, UTM 52N metres (placed near the real area)
CRS = "EPSG:32652"


def _noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Smooth standard-normal noise (Gaussian-filtered white noise, rescaled)."""
    f = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="reflect")
    return f / f.std()


def _line(mask: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> None:
    """Mark a 4-connected polyline through (row, col) points."""
    for (r0, c0), (r1, c1) in zip(zip(rows[:-1], cols[:-1]), zip(rows[1:], cols[1:])):
        n = int(max(abs(r1 - r0), abs(c1 - c0))) + 1
        rr = np.rint(np.linspace(r0, r1, n)).astype(int)
        cc = np.rint(np.linspace(c0, c1, n)).astype(int)
        prev = None
        for r, c in zip(rr, cc):
            if 0 <= r < mask.shape[0] and 0 <= c < mask.shape[1]:
                mask[r, c] = True
                if prev is not None and prev[0] != r and prev[1] != c:  # no diagonal steps: 4-connected
                    mask[prev[0], c] = True
            prev = (r, c)


def default_landscape(seed: int = 2015, rows: int = 120, cols: int = 100, cell_km: float = 1.0) -> Landscape:
    """The schematic landscape (see the module docstring); the same for the same arguments."""
    rng = np.random.default_rng(seed)
    R, C = rows, cols
    sy, sx = R / 120.0, C / 100.0  # the design is drawn on 120 × 100 km and scaled
    rr, cc = np.mgrid[0:R, 0:C].astype(float)
    # the coast: Amur Bay cuts in from the north-east, the coast then runs south-west
    wobble = 2.5 * ndimage.gaussian_filter1d(rng.standard_normal(R), 4 * sy) / 0.2
    bay = 16 * sx * np.exp(-(((np.arange(R) - 22 * sy) / (16 * sy)) ** 2))
    coast = (86 - 0.22 * np.arange(R) / sy) * sx - bay + wobble * sx
    water = cc > coast[:, None]
    # the sea south of the peninsula: a south coast curving up towards the east
    x = np.arange(C) / sx
    south = (112 - 0.35 * np.clip(x - 38, 0, None) + 0.9 * np.clip(38 - x, 0, None) + 1.5 * ndimage.gaussian_filter1d(rng.standard_normal(C), 3 * sx) / 0.23) * sy
    water |= rr > south[None, :]
    # the border: a wavy north-south line in the west; China west of it
    border = (24 + 4 * np.sin(np.arange(R) / (11 * sy)) + 1.5 * ndimage.gaussian_filter1d(rng.standard_normal(R), 5 * sy) / 0.18) * sx
    china = (cc < border[:, None]) & ~water
    # distance to the sea in km, elevation rising inland (west) with hills
    dist_sea = ndimage.distance_transform_edt(~water) * cell_km
    elevation = np.clip(15 + 9.0 * dist_sea + 120 * _noise(rng, (R, C), 4 * sx), 0, 900)
    elevation[water] = 0.0

    # highway and railway parallel to the coast, villages along them
    hw_col = np.clip(coast - 6 * sx, 1, C - 2)
    rows_idx = np.arange(R)
    highway = np.zeros((R, C), bool)
    railway = np.zeros((R, C), bool)
    land_rows = rows_idx[hw_col > border + 2]
    _line(highway, land_rows, hw_col[land_rows])
    _line(railway, land_rows, np.clip(hw_col[land_rows] + 2.5 * sx, 0, C - 1))
    highway &= ~water
    railway &= ~water & ~highway
    settlement = np.zeros((R, C), bool)
    village_rows = [int(v * sy) for v in (8, 24, 40, 55, 70, 86, 100)]
    for vr in village_rows:
        vc = int(hw_col[min(vr, R - 1)])
        settlement |= ((rr - vr) ** 2 + (cc - vc) ** 2) <= (1.6 * sx) ** 2
    # a road from the highway to the border crossing in the south, on into China to a town
    road = np.zeros((R, C), bool)
    xr = int(98 * sy)
    _line(road, np.array([xr, xr + 3 * sy, xr + 2 * sy]), np.array([hw_col[min(xr, R - 1)], border[min(xr, R - 1)], 10 * sx]))
    town = ((rr - 101 * sy) ** 2 + (cc - 9 * sx) ** 2) <= (2.5 * sx) ** 2
    settlement |= town
    # the national-park core and its buffer, in the middle of the Russian range
    cr, ccol = 58 * sy, 0.5 * (border[int(58 * sy)] + hw_col[int(58 * sy)])
    ellipse = ((rr - cr) / (34 * sy)) ** 2 + ((cc - ccol) / (13 * sx)) ** 2
    core = (ellipse <= 1.0) & ~water & ~china
    buffer = (ellipse <= 1.6) & ~core & ~water & ~china
    # villages and hay meadows along the core's eastern edge: the ignition hotspot
    edge = (ellipse > 1.0) & (ellipse <= 1.35) & (cc > ccol) & ~water & ~china
    meadows = edge & (_noise(rng, (R, C), 1.5 * sx) > -0.3)
    for er in (int(36 * sy), int(62 * sy), int(82 * sy)):
        cols_edge = np.flatnonzero(edge[er])
        if cols_edge.size:
            settlement |= ((rr - er) ** 2 + (cc - cols_edge[cols_edge.size // 2]) ** 2) <= (1.1 * sx) ** 2
    # forest tracks: from villages inland (random walks westward)
    track = np.zeros((R, C), bool)
    for vr in village_rows[1:-1] + [int(36 * sy), int(82 * sy)]:
        r, c = float(vr), float(hw_col[min(vr, R - 1)])
        pts_r, pts_c = [r], [c]
        for _ in range(6):
            r = float(np.clip(r + rng.normal(0, 4 * sy), 0, R - 1))
            c = float(np.clip(c - rng.uniform(4, 9) * sx, 0, C - 1))
            pts_r.append(r)
            pts_c.append(c)
        _line(track, np.array(pts_r), np.array(pts_c))
    track &= ~water & ~core  # no tracks inside the core

    # cover
    cover = np.full((R, C), COVER["oak_forest"], np.int8)
    high = elevation + 60 * _noise(rng, (R, C), 2 * sx) > 280
    cover[high] = COVER["mixed_forest"]
    near_people = ndimage.distance_transform_edt(~settlement) * cell_km
    open_land = (near_people < 2.5) | (dist_sea < 1.5)
    rough = _noise(rng, (R, C), 1.2 * sx)
    cover[open_land & (rough > 0.0)] = COVER["grassland"]
    cover[open_land & (rough <= 0.0)] = COVER["shrubland"]
    cover[(near_people >= 2.5) & (near_people < 5) & (rough > 0.9)] = COVER["shrubland"]
    cover[meadows & (rough > -0.2)] = COVER["grassland"]
    cover[meadows & (rough <= -0.2)] = COVER["shrubland"]
    farm_ne = (rr < 14 * sy) & (cc > 55 * sx) & ~water
    farm_cn = (((rr - 101 * sy) / (12 * sy)) ** 2 + ((cc - 9 * sx) / (9 * sx)) ** 2 <= 1.0) & ~water
    cover[(farm_ne | farm_cn) & (rough > -0.6)] = COVER["agriculture"]
    quarry = ((rr - 46 * sy) ** 2 + (cc - (hw_col[int(46 * sy)] - 9 * sx)) ** 2) <= (1.0 * sx) ** 2
    cover[quarry] = COVER["mine"]
    cover[settlement] = COVER["settlement"]
    cover[water] = COVER["water"]

    road_layer = np.full((R, C), ROAD["none"], np.int8)
    road_layer[track] = ROAD["track"]
    road_layer[road] = ROAD["road"]
    road_layer[railway] = ROAD["railway"]
    road_layer[highway] = ROAD["highway"]
    road_layer[water] = ROAD["none"]

    # deer farms next to three villages, inland of the highway
    deer_farm = np.zeros((R, C), bool)
    for vr in (village_rows[1], village_rows[4], village_rows[5]):
        c = int(hw_col[vr] - 4 * sx)
        deer_farm[max(vr - 1, 0) : vr + 1, max(c - 1, 0) : c + 1] = True
    deer_farm &= ~water & ~settlement

    zone = np.full((R, C), ZONE["none"], np.int8)
    zone[buffer] = ZONE["buffer"]
    zone[core] = ZONE["core"]

    # human access: the strongest source nearby, decaying with distance
    access = np.zeros((R, C))
    for mask, w in ((settlement, ACCESS_SOURCES["settlement"]), (highway, ACCESS_SOURCES["highway"]), (road, ACCESS_SOURCES["road"]), (railway, ACCESS_SOURCES["railway"]), (track, ACCESS_SOURCES["track"]), (meadows, ACCESS_SOURCES["track"])):
        if mask.any():
            d = ndimage.distance_transform_edt(~mask) * cell_km
            access = np.maximum(access, w * np.exp(-d / ACCESS_DECAY_KM))
    access[water] = 0.0
    cap = np.vectorize(lambda code: PREY_CAPACITY[COVER_CODES[int(code)]])(cover).astype(float)
    years_since_fire = np.where(cover == COVER["water"], 0, rng.integers(0, 40, size=(R, C)))
    years_since_fire = np.where((cover == COVER["grassland"]) | meadows, rng.integers(0, 3, size=(R, C)), years_since_fire)

    grid = Grid.regular(R, C, cell_km * 1000.0, origin=ORIGIN, crs=CRS, neighbours=8)
    n = grid.n_cells
    land = Landscape(grid, {}, {})
    for name, values in (
        ("cover", cover), ("elevation", elevation), ("road", road_layer), ("crossing", np.zeros((R, C), bool)), ("deer_farm", deer_farm),
        ("zone", zone), ("years_since_fire", years_since_fire), ("human_access", np.clip(access, 0, 1)), ("prey_capacity", cap),
        ("prey", PREY_START_SHARE * cap), ("patrol_effort", np.zeros((R, C))), ("firebreak", np.zeros((R, C))),
        ("cover_age", years_since_fire), ("prey_capacity_factor", np.ones((R, C))),
        ("area_km2", np.full((R, C), cell_km * cell_km)),
    ):  # fmt: skip
        land.layers[name] = check_layer(name, values.ravel(), n, "the default landscape")
    land.regions["country"] = RegionLayer("country", np.where(water.ravel(), -1, np.where(china.ravel(), 1, 0)).astype(np.int32), ("russia", "china"))
    zcodes = zone.ravel().astype(np.int32)
    land.regions["zone"] = RegionLayer("zone", np.where(water.ravel(), -1, zcodes), tuple(ZONE_CODES[k] for k in sorted(ZONE_CODES)))
    return land
