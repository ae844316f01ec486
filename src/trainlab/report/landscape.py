"""Landscape figures from a computed landscape folder: contours with the trajectory, 3D surface,
per-epoch animation (GIF, MP4 when ffmpeg exists) and an interactive HTML slider."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from matplotlib import animation
from matplotlib.figure import Figure


def load(folder: Path) -> tuple[dict, dict[int | None, dict[str, np.ndarray]], np.ndarray]:
    """(spec, frames: epoch -> {xs, ys, metric...}, trajectory rows (epoch, x, y))."""
    spec = json.loads((folder / "spec.json").read_text())
    frames = {}
    for path in sorted(folder.glob("*.npz")):
        epoch = None if path.stem == "surface" else int(path.stem.split("_")[1])
        with np.load(path) as f:
            frames[epoch] = {k.removeprefix("metric_"): f[k] for k in f.files}
    frames = dict(sorted(frames.items(), key=lambda kv: -1 if kv[0] is None else kv[0]))
    trajectory = np.load(folder / "trajectory.npy") if (folder / "trajectory.npy").exists() else np.zeros((0, 3))
    return spec, frames, trajectory


def read_csv(text: str) -> dict[int | None, dict[str, np.ndarray]]:
    """Frames from a landscape CSV in trainlab's format (`landscape.csv`: columns x, y, one per metric, and
    an optional epoch; one row per grid point), computed by trainlab or anywhere else. Parsed as numbers
    only; raises ValueError, naming what is wrong, for anything else."""
    import csv
    import io

    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    if "x" not in header or "y" not in header:
        raise ValueError(f"the header must name columns x and y (got {', '.join(header) or 'nothing'})")
    metrics = [h for h in header if h not in ("epoch", "x", "y")]
    if not metrics:
        raise ValueError("no metric column besides epoch, x and y")
    rows = [r for r in reader if any(cell.strip() for cell in r)]
    if not rows or any(len(r) != len(header) for r in rows):
        raise ValueError(f"every row needs {len(header)} values")
    try:
        table = {h: np.array([float(r[i]) if r[i].strip() else np.nan for r in rows]) for i, h in enumerate(header)}
    except ValueError as err:
        raise ValueError(f"not a number: {err}") from None
    epochs = table.get("epoch", np.full(len(rows), np.nan))
    frames = {}
    for epoch in sorted({e for e in epochs if np.isfinite(e)}) or [None]:
        at = np.isnan(epochs) if epoch is None else epochs == epoch
        xs, ys = np.unique(table["x"][at]), np.unique(table["y"][at])
        frame = {"xs": xs, "ys": ys}
        for m in metrics:
            z = np.full((len(ys), len(xs)), np.nan)
            z[np.searchsorted(ys, table["y"][at]), np.searchsorted(xs, table["x"][at])] = table[m][at]
            frame[m] = z
        frames[None if epoch is None else int(epoch)] = frame
    return frames


def _draw(ax, frame: dict[str, np.ndarray], metric: str, trajectory: np.ndarray, levels: np.ndarray) -> None:  # noqa: ANN001
    z = frame[metric]
    filled = ax.contourf(frame["xs"], frame["ys"], z, levels=levels, cmap="viridis")
    ax.contour(frame["xs"], frame["ys"], z, levels=levels, colors="white", linewidths=0.4, alpha=0.6)
    if len(trajectory):
        ax.plot(trajectory[:, 1], trajectory[:, 2], "o-", color="red", markersize=3, linewidth=1, label="trajectory")
    ax.plot([0], [0], "k*", markersize=9)
    ax.set_xlabel("direction 1")
    ax.set_ylabel("direction 2")
    return filled


def _levels(frames: dict, metric: str) -> np.ndarray:
    """Shared contour levels over every frame (frames stay comparable); log-spaced for losses."""
    z = np.concatenate([f[metric][np.isfinite(f[metric])].ravel() for f in frames.values()])
    if metric in ("loss", "perplexity") and z.min() > 0:
        return np.geomspace(z.min(), min(z.max(), z.min() * 1e3), 30)
    return np.linspace(z.min(), z.max(), 30)


def render(folder: Path, metrics: list[str] | None = None) -> list[Path]:
    """Write contour (PNG, PDF), 3D surface, animation and HTML slider; returns the files written."""
    spec, frames, trajectory = load(folder)
    metrics = [m for m in (metrics or spec["metrics"]) if m in next(iter(frames.values()))]
    written = []
    last = frames[max(e for e in frames if e is not None)] if None not in frames else frames[None]
    for metric in metrics:
        levels = _levels(frames, metric)
        fig = Figure(figsize=(6, 5), layout="constrained")
        ax = fig.subplots()
        fig.colorbar(_draw(ax, last, metric, trajectory, levels), label=metric)
        ax.set_title(f"{metric} around the trained weights ({spec['dirs']} directions)")
        for ext in ("png", "pdf"):
            fig.savefig(folder / f"contour_{metric}.{ext}", dpi=110)
            written.append(folder / f"contour_{metric}.{ext}")
        fig3d = Figure(figsize=(6, 5), layout="constrained")
        ax3d = fig3d.add_subplot(projection="3d")
        X, Y = np.meshgrid(last["xs"], last["ys"])
        ax3d.plot_surface(X, Y, last[metric], cmap="viridis")
        ax3d.set_xlabel("direction 1")
        ax3d.set_ylabel("direction 2")
        ax3d.set_zlabel(metric)
        fig3d.savefig(folder / f"surface3d_{metric}.png", dpi=110)
        written.append(folder / f"surface3d_{metric}.png")
        if len(frames) > 1:
            written += _animate(folder, frames, metric, trajectory, levels)
    written.append(_slider(folder, frames, metrics[0], trajectory))
    return written


def _animate(folder: Path, frames: dict, metric: str, trajectory: np.ndarray, levels: np.ndarray) -> list[Path]:
    fig = Figure(figsize=(6, 5), layout="constrained")
    ax = fig.subplots()
    epochs = [e for e in frames if e is not None]

    def draw(i: int) -> None:
        ax.clear()
        e = epochs[i]
        _draw(ax, frames[e], metric, trajectory[trajectory[:, 0] <= e] if len(trajectory) else trajectory, levels)
        ax.set_title(f"{metric}, epoch {e} (one fixed basis)")

    anim = animation.FuncAnimation(fig, draw, frames=len(epochs))
    out = [folder / f"animation_{metric}.gif"]
    anim.save(out[0], writer=animation.PillowWriter(fps=2))
    if shutil.which("ffmpeg"):
        anim.save(folder / f"animation_{metric}.mp4", writer=animation.FFMpegWriter(fps=2))
        out.append(folder / f"animation_{metric}.mp4")
    return out


def side_by_side(folders: list[Path], titles: list[str], metric: str) -> Figure:
    """The surfaces of several runs (each at its last frame) on one colour scale and one set of contour
    levels, so their shapes compare directly: the POSTECH study's dense / ticket / random-init figure."""
    loaded = [load(folder) for folder in folders]
    lasts = [
        frames[max(e for e in frames if e is not None)] if None not in frames else frames[None]
        for _, frames, _ in loaded
    ]
    levels = _levels({i: f for i, f in enumerate(lasts)}, metric)
    fig = Figure(figsize=(4.2 * len(folders) + 1, 4), layout="constrained")
    axes = fig.subplots(1, len(folders), squeeze=False)[0]
    for ax, frame, (_, _, trajectory), title in zip(axes, lasts, loaded, titles):
        filled = _draw(ax, frame, metric, trajectory, levels)
        ax.set_title(title, fontsize=9)
    fig.colorbar(filled, ax=list(axes), label=metric)
    return fig


def surface_figure(frames: dict, metric: str) -> go.Figure:
    """Interactive 3D surface; with several epochs, a slider moves through them."""
    keys = list(frames)
    fig = go.Figure(
        go.Surface(x=frames[keys[-1]]["xs"], y=frames[keys[-1]]["ys"], z=frames[keys[-1]][metric], colorscale="Viridis")
    )
    if len(keys) > 1:
        fig.frames = [go.Frame(data=[go.Surface(z=frames[k][metric])], name=str(k)) for k in keys]
        fig.update_layout(
            sliders=[
                {
                    "steps": [
                        {
                            "args": [[str(k)], {"frame": {"duration": 0}, "mode": "immediate"}],
                            "label": f"epoch {k}",
                            "method": "animate",
                        }
                        for k in keys
                    ]
                }
            ]
        )
    fig.update_layout(
        height=520, scene={"xaxis_title": "direction 1", "yaxis_title": "direction 2", "zaxis_title": metric}
    )
    return fig


def _slider(folder: Path, frames: dict, metric: str, trajectory: np.ndarray) -> Path:
    path = folder / "landscape.html"
    path.write_text(surface_figure(frames, metric).to_html(include_plotlyjs=True), encoding="utf-8")
    return path
