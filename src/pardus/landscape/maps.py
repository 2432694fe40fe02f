"""Map figures of a landscape (matplotlib): what `pardus landscape show` draws."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .core import Landscape
from .layers import COVER_CODES, LAYERS

COVER_COLOURS = {
    "water": "#a6cee3",
    "mixed_forest": "#1b5e20",
    "oak_forest": "#7cb342",
    "shrubland": "#c5b358",
    "grassland": "#f0e68c",
    "agriculture": "#e6a157",
    "settlement": "#d62728",
    "mine": "#6d4c41",
}
ROAD_STYLE = {"track": ("#8d6e63", 0.6), "road": ("#424242", 1.2), "highway": ("#000000", 1.8), "railway": ("#7b1fa2", 1.2)}


def _extent(land: Landscape):
    g = land.grid
    if g.transform is None:
        return None
    a, _b, c, _d, e, f = g.transform
    return (c / 1000.0, (c + g.cols * a) / 1000.0, (f + g.rows * e) / 1000.0, f / 1000.0)  # km


def plot_landscape(land: Landscape, path: str | Path, layers: list[str] | None = None, title: str = "") -> Path:
    """A figure of the landscape: the cover map with roads, deer farms, zones and the border, and
    one panel per further numeric layer (default: human access, prey capacity, elevation)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    from ..fileio import atomic_write

    if not land.spatial:
        raise ValueError("a non-spatial landscape (one cell per population) has no map — give a spatial landscape")
    g = land.grid
    shape = g.shape
    extent = _extent(land)
    wanted = layers if layers is not None else [n for n in ("human_access", "prey_capacity", "elevation") if n in land.layers]
    panels = 1 + len(wanted)
    fig, axes = plt.subplots(1, panels, figsize=(4.6 * panels + 1.2, 6.3), squeeze=False, constrained_layout=True)
    ax = axes[0, 0]
    if "cover" in land.layers:
        codes = sorted(COVER_CODES)
        cmap = ListedColormap([COVER_COLOURS[COVER_CODES[k]] for k in codes])
        norm = BoundaryNorm(np.arange(len(codes) + 1) - 0.5, cmap.N)
        ax.imshow(land.layers["cover"].reshape(shape), cmap=cmap, norm=norm, extent=extent, interpolation="nearest")
        handles = [Patch(color=COVER_COLOURS[COVER_CODES[k]], label=COVER_CODES[k].replace("_", " ")) for k in codes if (land.layers["cover"] == k).any()]
    else:
        handles = []
    rows, cols = np.mgrid[0 : g.rows, 0 : g.cols]
    x0, x1, y0, y1 = extent if extent else (0, g.cols, g.rows, 0)
    xs = x0 + (cols + 0.5) * (x1 - x0) / g.cols
    ys = y1 + (rows + 0.5) * (y0 - y1) / g.rows
    if "road" in land.layers:
        road = land.layers["road"].reshape(shape)
        for name, (colour, size) in ROAD_STYLE.items():
            m = road == LAYERS["road"].code(name)
            if m.any():
                ax.scatter(xs[m], ys[m], s=size, c=colour, marker="s", linewidths=0)
                handles.append(Patch(color=colour, label=name))
    if "deer_farm" in land.layers:
        m = land.layers["deer_farm"].reshape(shape).astype(bool)
        if m.any():
            ax.scatter(xs[m], ys[m], s=14, c="#ff6f00", marker="D", linewidths=0.3, edgecolors="k")
            handles.append(Patch(color="#ff6f00", label="deer farm"))
    if "zone" in land.layers:
        z = land.layers["zone"].reshape(shape)
        ax.contour(xs, ys, (z == LAYERS["zone"].code("core")).astype(float), levels=[0.5], colors="#ffffff", linewidths=1.6)
        ax.contour(xs, ys, (z >= LAYERS["zone"].code("buffer")).astype(float), levels=[0.5], colors="#ffffff", linewidths=0.8, linestyles="--")
        handles.append(Patch(facecolor="none", edgecolor="#555555", label="park core (solid) / buffer (dashed)"))
    if "country" in land.regions:
        c = land.regions["country"].codes.reshape(shape).astype(float)
        c[c < 0] = np.nan
        if np.nanmax(c) > np.nanmin(c):
            ax.contour(xs, ys, np.nan_to_num(c, nan=-1.0), levels=[0.5], colors="#e91e63", linewidths=1.4, linestyles="-.")
            handles.append(Patch(facecolor="none", edgecolor="#e91e63", label="border (" + " | ".join(land.regions["country"].names) + ")"))
    ax.set_title("cover, roads, deer farms, zones")
    ax.set_xlabel("easting, km")
    ax.set_ylabel("northing, km")
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, fontsize=7, frameon=False)
    for i, name in enumerate(wanted, start=1):
        a = axes[0, i]
        spec = LAYERS.get(name)
        values = land.layers[name].astype(float).reshape(shape)
        if "cover" in land.layers:
            values = np.where(land.layers["cover"].reshape(shape) == 0, np.nan, values)  # no values drawn over the sea
        im = a.imshow(values, extent=extent, interpolation="nearest", cmap="viridis")
        a.set_title(f"{name.replace('_', ' ')}" + (f" ({spec.units})" if spec and spec.units not in ("-", "") else ""))
        a.set_xlabel("easting, km")
        fig.colorbar(im, ax=a, shrink=0.7)
    if title:
        fig.suptitle(title)
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format=path.suffix.lstrip(".") or "png"))
    plt.close(fig)
    return path


def plot_cell_map(land: Landscape, values: np.ndarray, path: str | Path, title: str, label: str, cmap: str = "inferno") -> Path:
    """One per-cell map (e.g. burn probability) over the landscape, the sea left blank, with the
    park core outlined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..fileio import atomic_write

    g = land.grid
    shape = g.shape
    extent = _extent(land)
    v = np.asarray(values, dtype=float).reshape(shape)
    if "cover" in land.layers:
        v = np.where(land.layers["cover"].reshape(shape) == 0, np.nan, v)
    fig, ax = plt.subplots(figsize=(5.6, 6.2), constrained_layout=True)
    im = ax.imshow(v, extent=extent, interpolation="nearest", cmap=cmap)
    fig.colorbar(im, ax=ax, shrink=0.75, label=label)
    if "zone" in land.layers:
        rows, cols = np.mgrid[0 : g.rows, 0 : g.cols]
        x0, x1, y0, y1 = extent if extent else (0, g.cols, g.rows, 0)
        xs = x0 + (cols + 0.5) * (x1 - x0) / g.cols
        ys = y1 + (rows + 0.5) * (y0 - y1) / g.rows
        core = (land.layers["zone"].reshape(shape) == LAYERS["zone"].code("core")).astype(float)
        ax.contour(xs, ys, core, levels=[0.5], colors="#00e5ff", linewidths=1.4)
    ax.set_title(title)
    ax.set_xlabel("easting, km")
    ax.set_ylabel("northing, km")
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format=path.suffix.lstrip(".") or "png"))
    plt.close(fig)
    return path
