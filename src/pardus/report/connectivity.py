"""The connectivity figure: resistance, current and least-cost corridors between habitat cores
on a scenario's map, with the best candidate crossings marked (`pardus connectivity SCENARIO`,
and the Connectivity section of the report)."""

from __future__ import annotations

import numpy as np

from .figures import _RC as STYLE, _new_figure, _render, mpl

TOP = 10  # candidates marked on the map and listed in the report


def _extent(result):
    g = result.state.grid
    a, _b, c, _d, e, f = g.transform
    return (c / 1000.0, (c + a * g.cols) / 1000.0, (f + e * g.rows) / 1000.0, f / 1000.0)


def _context(ax, result, extent) -> None:
    water = np.isnan(result.resistance)
    ax.imshow(np.where(water, 1.0, np.nan), cmap=mpl.colors.ListedColormap(["#cfe3ef"]), extent=extent, interpolation="nearest", origin="upper")
    for k in range(1, len(result.core_names) + 1):
        ax.contour((result.cores == k).astype(float), levels=[0.5], colors=["#222222"], linewidths=1.0, extent=extent, origin="upper")
    ax.set_xlabel("easting, km")
    ax.grid(False)
    ax.set_aspect("equal")


def _log_norm(values: np.ndarray):
    v = values[np.isfinite(values) & (values > 0)]
    if v.size == 0:
        return mpl.colors.Normalize(0, 1)
    lo, hi = np.quantile(v, [0.02, 1.0])
    return mpl.colors.LogNorm(vmin=max(lo, hi * 1e-6), vmax=hi)


def core_label(spec: str) -> str:
    """A short name for a core given as an area: ``zone:core`` → ``core``, a file → its stem."""
    from pathlib import PurePath

    if spec.lower().endswith((".geojson", ".json", ".tif", ".tiff")):
        return PurePath(spec).stem
    return spec.split(":")[-1]


def connectivity_figure(result) -> bytes:
    """Four maps: the resistance surface, the current between the cores, the least-cost
    corridors and the candidate cells coloured by how much each would lower the effective
    resistance (the best numbered); PNG bytes."""
    with mpl.rc_context(STYLE):
        fig = _new_figure(11.0, 10.0)
        axes = fig.subplots(2, 2, sharex=True, sharey=True).ravel()
        extent = _extent(result)
        im = axes[0].imshow(result.resistance, cmap="magma_r", norm=_log_norm(result.resistance), extent=extent, interpolation="nearest", origin="upper")
        fig.colorbar(im, ax=axes[0], shrink=0.85, label="resistance (forest without people = 1)")
        axes[0].set_title("resistance of the dispersers' walk")
        outside = np.where(result.cores > 0, np.nan, result.current)  # inside a core (shorted) the current is not informative
        im = axes[1].imshow(outside, cmap="viridis", norm=_log_norm(outside), extent=extent, interpolation="nearest", origin="upper")
        fig.colorbar(im, ax=axes[1], shrink=0.85, label="current between the cores (A, 1 A in total)")
        axes[1].set_title("current (circuit theory)")
        im = axes[2].imshow(result.corridor / 1000.0, cmap="YlGn_r", extent=extent, interpolation="nearest", origin="upper")
        fig.colorbar(im, ax=axes[2], shrink=0.85, label="extra cost over the least-cost path (km of forest)")
        axes[2].set_title(f"least-cost corridor (width {result.width / 1000.0:g} km of forest)")
        rows, cols = result.cores.shape
        for lk in result.links:
            if lk.connected and len(lk.path.cells):
                cells = np.asarray(lk.path.cells)
                xs = extent[0] + (cells[:, 1] + 0.5) * (extent[1] - extent[0]) / cols
                ys = extent[3] - (cells[:, 0] + 0.5) * (extent[3] - extent[2]) / rows
                axes[2].plot(xs, ys, color="#e4572e", lw=1.4, label="least-cost path")
        ax = axes[3]
        ax.imshow(np.where(np.isnan(result.resistance), np.nan, 1.0), cmap=mpl.colors.ListedColormap(["#eeeeee"]), extent=extent, interpolation="nearest", origin="upper")
        if result.candidates:
            c = result.candidates
            share = np.array([k.share for k in c]) * 100.0
            sc = ax.scatter([k.x / 1000.0 for k in c], [k.y / 1000.0 for k in c], c=share, cmap="plasma", s=14, marker="s", linewidths=0, zorder=3)
            fig.colorbar(sc, ax=ax, shrink=0.85, label="fall of the effective resistance (%)")
            for i, k in enumerate(c[:3], 1):
                ax.annotate(f"{i}", (k.x / 1000.0, k.y / 1000.0), xytext=(12, -4 + 10 * (i - 2)), textcoords="offset points", color="#111111", fontsize=9, weight="bold",
                            arrowprops=dict(arrowstyle="-", color="#111111", lw=0.8), zorder=4)
            ax.set_title(f"candidates ({result.candidate_spec}): one improved at a time")
        else:
            ax.set_title("no candidates given (--candidates)")
        for a in axes:
            _context(a, result, extent)
        for a in axes[:2]:
            a.set_xlabel("")
        for a in axes[0::2]:
            a.set_ylabel("northing, km")
        names = " and ".join(core_label(n) for n in result.core_names)
        fig.suptitle(f"{result.state.scenario_name} in {result.state.year}: connectivity between {names}", fontsize=11)
        return _render(fig)


class ConnectivityInputError(ValueError):
    """The files of a connectivity analysis for the report are missing or not readable."""


def load_for_report(prefix) -> dict:
    """Read what `pardus connectivity SCENARIO -o PREFIX` wrote, for the report: the figure
    (PREFIX.png), the pairs (PREFIX_links.csv) and, if there, the ranked candidates
    (PREFIX_candidates.csv)."""
    import csv
    from pathlib import Path

    prefix = Path(prefix)
    png, links, cands = Path(f"{prefix}.png"), Path(f"{prefix}_links.csv"), Path(f"{prefix}_candidates.csv")
    for p in (png, links):
        if not p.exists():
            raise ConnectivityInputError(f"--connectivity {prefix}: {p} is missing — give the prefix that `pardus connectivity SCENARIO -o PREFIX` wrote")
    try:
        with links.open(newline="", encoding="utf-8") as f:
            link_rows = list(csv.DictReader(f))
        cand_rows = []
        if cands.exists():
            with cands.open(newline="", encoding="utf-8") as f:
                cand_rows = list(csv.DictReader(f))
        data = png.read_bytes()
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConnectivityInputError(f"--connectivity {prefix}: cannot be read ({exc}) — run `pardus connectivity` again") from None
    need = {"name_a", "name_b", "effective_resistance", "least_cost_distance"}
    if not link_rows or not need <= set(link_rows[0]):
        raise ConnectivityInputError(f"--connectivity {prefix}: {links} is not a links table of `pardus connectivity` — run it again")
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ConnectivityInputError(f"--connectivity {prefix}: {png} is not a PNG figure — run `pardus connectivity` again")
    return {"prefix": str(prefix), "png": data, "links": link_rows, "candidates": cand_rows}


def report_section(conn: dict, esc, figure_html) -> tuple[str, object]:
    """The report's Connectivity section (HTML) and its FigureSpec."""
    from .figures import FigureSpec

    fig = FigureSpec(
        "connectivity",
        "Connectivity between habitat cores",
        "Top left: the resistance of the dispersers' walk (cover, roads, human access, crossings). Top right: current between the cores "
        "(circuit theory, 1 A from one core to the other; bright = many routes pass there). Bottom left: the least-cost corridor and path "
        "(Linkage Mapper's normalised corridor). Bottom right: each candidate cell improved in turn (a crossing on a road cell, forest "
        "elsewhere), coloured by how much it would lower the effective resistance between the cores; the best three are numbered.",
        conn["png"],
    )
    rows = "".join(
        f"<tr><td>{esc(r['name_a'])} – {esc(r['name_b'])}</td><td class='num'>{_num(r['effective_resistance'])}</td>"
        f"<td class='num'>{_num(r['least_cost_distance'], 1000.0)}</td><td class='num'>{_num(r.get('path_length', 'nan'), 1000.0)}</td></tr>"
        for r in conn["links"]
    )
    links = (
        '<div class="table-wrap"><table class="data" id="connectivity-links"><thead><tr><th>Cores</th>'
        "<th title='in cells of forest without people'>Effective resistance</th><th title='cost-weighted distance in km of forest'>Least-cost distance (km of forest)</th>"
        f"<th>Least-cost path (km)</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )
    cand = ""
    if conn["candidates"]:
        top = conn["candidates"][:TOP]
        run = any(_num(r.get("dispersal_passage")) not in ("–",) for r in top)
        body = "".join(
            f"<tr><td class='num'>{esc(r['rank'])}</td><td class='num'>{float(r['x']) / 1000:.1f}, {float(r['y']) / 1000:.1f}</td><td>{esc(r['kind'])}</td>"
            f"<td class='num'>{float(r['share_of_resistance']) * 100:.3f} %</td><td class='num'>{float(r['current']):.3g}</td>"
            + (f"<td class='num'>{_num(r.get('dispersal_passage'))}</td>" if run else "") + "</tr>"
            for r in top
        )
        best = top[0]
        cand = (
            f"<p>Of {len(conn['candidates'])} candidate cells, a {esc(best['kind'])} at easting {float(best['x']) / 1000:.1f} km, northing "
            f"{float(best['y']) / 1000:.1f} km lowers the effective resistance between the cores most "
            f"({float(best['share_of_resistance']) * 100:.3f} %); the current through it before is {float(best['current']):.3g} A of 1 A.</p>"
            '<div class="table-wrap"><table class="data" id="connectivity-candidates"><thead><tr><th>Rank</th><th>Easting, northing (km)</th><th>Change</th>'
            "<th title='fall of the summed effective resistance between the cores'>Fall of resistance</th><th title='before the change, of 1 A between the cores'>Current (A)</th>"
            + ("<th title='steps of simulated dispersers into the cell a year (--results)'>Dispersal steps / year</th>" if run else "") + "</tr></thead>"
            f"<tbody>{body}</tbody></table></div>"
        )
    intro = (
        f"<p>From <code>{esc(conn['prefix'])}</code>, written by <code>pardus connectivity</code> on the scenario's map: where movement between the habitat "
        "cores concentrates and which candidate crossings would carry most of it. The resistance is that of the walk the simulated dispersers make, "
        "so these maps and the population run describe the same landscape.</p>"
    )
    return f'<section id="connectivity"><h2>Connectivity</h2>{intro}{links}{cand}{figure_html(fig)}</section>', fig


def _num(v, scale: float = 1.0) -> str:
    try:
        x = float(v) / scale
    except (TypeError, ValueError):
        return "–"
    return "not connected" if x == float("inf") or x < 0 else ("–" if x != x else f"{x:.4g}")
