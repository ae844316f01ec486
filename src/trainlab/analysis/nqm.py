"""The noisy quadratic model (Zhang et al. 2019, "Which Algorithmic Choices Matter at Which Batch Sizes?"),
solved exactly in expectation.

L(θ) = ½ Σ h_i θ_i² with h_i = 1/i (i = 1..d), gradients h_i θ_i + ε_i with Var ε_i = h_i / B (noise
covariance H/B), θ_i(0) ~ N(0, 1). The optimizer is heavy-ball momentum β with preconditioner P = H^-p
(β = 0, p = 0: SGD; p = ½ stands for an Adam-like diagonal preconditioner, as in the paper):

    v ← β v - η P g,    θ ← θ + v.

Per dimension (θ, v) is linear, so its second moments m = (E θ², E θv, E v²) follow m' = T m + s exactly, and
m(t) = Tᵗ m(0) + (I - Tᵗ)(I - T)⁻¹ s, computed through the eigendecomposition of each 3×3 T. The expected
loss at any step costs O(d), so the steps to a target loss need no simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DIMENSIONS = 10_000


@dataclass(frozen=True)
class NQM:
    dimensions: int = DIMENSIONS

    @property
    def curvatures(self) -> np.ndarray:
        return 1.0 / np.arange(1, self.dimensions + 1)

    def initial_loss(self) -> float:
        return 0.5 * float(self.curvatures.sum())


@dataclass(frozen=True)
class Dynamics:
    """The second-moment recursion of one optimizer setting, diagonalised once."""

    h: np.ndarray  # (d,)
    vectors: np.ndarray  # (d, 3, 3) eigenvectors of T
    values: np.ndarray  # (d, 3) eigenvalues of T
    start: np.ndarray  # (d, 3) m(0) in the eigenbasis
    fixed: np.ndarray  # (d, 3) (I - T)⁻¹ s in the eigenbasis: the noise floor
    stable: bool

    def loss(self, t: float) -> float:
        """Expected loss after t steps."""
        decay = self.values**t  # (d, 3)
        m = np.einsum("dij,dj->di", self.vectors, decay * self.start + (1 - decay) * self.fixed).real
        return 0.5 * float((self.h * m[:, 0]).sum())


def dynamics(model: NQM, lr: float, batch: int, momentum: float = 0.0, precondition: float = 0.0) -> Dynamics:
    h = model.curvatures
    p = h**-precondition
    a = lr * p * h  # θ' = (1 - a) θ + β v - η P ε,  v' = -a θ + β v - η P ε
    P, Q, R, S = 1 - a, np.full_like(a, momentum), -a, np.full_like(a, momentum)
    T = np.stack(
        [
            np.stack([P**2, 2 * P * Q, Q**2], -1),
            np.stack([P * R, P * S + Q * R, Q * S], -1),
            np.stack([R**2, 2 * R * S, S**2], -1),
        ],
        axis=1,
    )  # (d, 3, 3)
    noise = (lr * p) ** 2 * h / batch
    s = np.stack([noise, noise, noise], -1)  # the same noise enters θ and v
    values, vectors = np.linalg.eig(T)
    stable = bool(np.abs(values).max() < 1)
    inverse = np.linalg.inv(vectors)
    m0 = np.stack([np.ones_like(h), np.zeros_like(h), np.zeros_like(h)], -1)
    fixed = np.linalg.solve(np.eye(3) - T, s[..., None])[..., 0] if stable else np.zeros_like(s)
    to_basis = lambda m: np.einsum("dij,dj->di", inverse, m)  # noqa: E731
    return Dynamics(h, vectors, values, to_basis(m0), to_basis(fixed), stable)


def steps_to(d: Dynamics, target: float, max_steps: int = 2**24) -> float:
    """The first step at which the expected loss is at most `target` (inf if not within max_steps): doubling
    t until the loss is below it, then bisection (the expected loss of a stable setting falls to its noise
    floor; with momentum it may oscillate, which the search can only miss within one doubling)."""
    if not d.stable:
        return np.inf
    hi = 1
    while d.loss(hi) > target:
        if hi >= max_steps:
            return np.inf
        hi *= 2
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if d.loss(mid) <= target else (mid, hi)
    return float(hi)
