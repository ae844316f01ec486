"""Loss landscapes for any nn.Module: directions (random filter-normalised, toward, PCA), 1D/2D surfaces,
interpolation, trajectory projection. No trainlab store needed."""

from trainlab.weightspace.directions import (
    Direction,
    normalize,
    pca_directions,
    project,
    random_direction,
    toward,
    weights,
)
from trainlab.weightspace.surface import Surface, batch_metrics, interpolate, moved, surface

__all__ = [
    "Direction",
    "Surface",
    "batch_metrics",
    "interpolate",
    "moved",
    "normalize",
    "pca_directions",
    "project",
    "random_direction",
    "surface",
    "toward",
    "weights",
]
