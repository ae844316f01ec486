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

from trainlab.files import write_text_atomic, written_in_place
from trainlab.report.webpage import save_figure


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
            save_figure(fig, folder / f"contour_{metric}.{ext}")
            written.append(folder / f"contour_{metric}.{ext}")
        fig3d = Figure(figsize=(6, 5), layout="constrained")
        ax3d = fig3d.add_subplot(projection="3d")
        X, Y = np.meshgrid(last["xs"], last["ys"])
        ax3d.plot_surface(X, Y, last[metric], cmap="viridis")
        ax3d.set_xlabel("direction 1")
        ax3d.set_ylabel("direction 2")
        ax3d.set_zlabel(metric)
        save_figure(fig3d, folder / f"surface3d_{metric}.png")
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
    if shutil.which("ffmpeg"):
        out.append(folder / f"animation_{metric}.mp4")
    for path in out:
        with written_in_place(path) as tmp:
            anim.save(tmp, writer=(animation.PillowWriter if path.suffix == ".gif" else animation.FFMpegWriter)(fps=2))
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
    write_text_atomic(path, surface_figure(frames, metric).to_html(include_plotlyjs=True))
    return path
