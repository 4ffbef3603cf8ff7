"""The packing behind ``M(eps)`` (docs/capacity.md, Lemma 2): ``2^{M(eps)}`` maps
``[0,1]^{L×d} -> [0,1]^{L×d}``, each ``C``-Lipschitz in the max norm, pairwise ``4 eps`` apart.

Pyramids of height ``2 eps`` and slope ``C`` at ``m = floor(C / (4 eps))`` centres
``(k + 1/2)/m`` per axis, one independent sign per (centre, output coordinate).

>>> from verify.claims.capacity.packing import packing_centres
>>> packing_centres(eps=0.125, lipschitz=1.0).tolist()
[0.25, 0.75]
"""

from __future__ import annotations

import numpy as np

from reference._validation import as_array, open_unit_interval, positive_float
from verify.claims.capacity import bounds as cap


def packing_parameters(
    eps: float, lipschitz: float, *, allow_empty: bool = False
) -> tuple[float, float, int]:
    """Validated ``(eps, C, m)`` with ``m = floor(C / (4 eps))`` centres per axis; requires
    ``eps <= 1/4`` and (unless ``allow_empty``) ``m >= 1``.

    >>> from verify.claims.capacity.packing import packing_parameters
    >>> packing_parameters(0.125, 1.0)
    (0.125, 1.0, 2)
    """
    eps = open_unit_interval("eps", eps)
    lipschitz = positive_float("lipschitz", lipschitz)
    if eps > float(cap.packing_max_eps):
        raise ValueError(
            f"eps: expected eps <= {cap.packing_max_eps} (values 1/2 ± {cap.bump_height} in "
            f"[0, 1]), got {eps}"
        )
    m = int(cap.packing_centres_per_axis_fn(eps, lipschitz))
    if m < 1 and not allow_empty:
        largest = float(cap.packing_one_centre_max_eps_fn(lipschitz))
        raise ValueError(
            f"eps: expected eps <= {cap.packing_one_centre_max_eps} = {largest} "
            f"(at least one centre), got {eps}"
        )
    return eps, lipschitz, m


def packing_centres(*, eps: float, lipschitz: float) -> np.ndarray:
    """The ``m = floor(C / (4 eps))`` centre coordinates ``(k + 1/2) / m`` of one axis.

    >>> from verify.claims.capacity.packing import packing_centres
    >>> packing_centres(eps=0.05, lipschitz=1.0).size
    5
    """
    _, _, m = packing_parameters(eps, lipschitz)
    return (np.arange(m) + 0.5) / m  # (m,)


def packing_member(
    x: np.ndarray,
    signs: np.ndarray,
    *,
    eps: float,
    lipschitz: float,
    centres: np.ndarray | None = None,
) -> np.ndarray:
    """``f_σ(x) = 1/2 + σ_{j(x)} · max(0, 2 eps - C ||x - c_{j(x)}||_max)``, shape of ``x``.

    ``x`` is ``(L, d)`` or ``(batch, L, d)``; ``signs`` has shape ``(m,) * (L d) + (L, d)`` with
    entries ±1: one sign per (centre, output coordinate); ``c_{j(x)}`` is the centre nearest to
    ``x`` (the only one whose bump can be non-zero there, since bumps have disjoint supports).

    ``centres`` (optional, increasing, pairwise ``>= 4 eps / C`` apart) replaces the default
    per-axis centre coordinates ``(k + 1/2)/m``, e.g. by cell centres of a construction's grid.

    >>> import numpy as np
    >>> from verify.claims.capacity.packing import packing_member
    >>> s = np.ones((2, 1, 1))
    >>> packing_member(np.array([[0.25]]), s, eps=0.125, lipschitz=1.0).tolist()
    [[0.75]]
    """
    eps, lipschitz, m = packing_parameters(eps, lipschitz)
    axis = (np.arange(m) + 0.5) / m  # (m,)
    if centres is not None:
        axis = as_array("centres", centres, ndim=1)
        spacing = float(2 * cap.bump_height_fn(eps) / lipschitz)
        if axis.size == 0 or np.any(np.diff(axis) < spacing * (1 - 1e-12)):
            raise ValueError(
                f"centres: expected increasing coordinates >= {spacing} apart, got {axis.tolist()}"
            )
        m = axis.size
    x = as_array("x", x, ndim=(2, 3))
    length, d = x.shape[-2:]
    signs = np.asarray(signs)
    expected = (m,) * (length * d) + (length, d)
    if signs.shape != expected or not np.all(np.abs(signs) == 1):
        raise ValueError(f"signs: expected ±1 entries of shape {expected}, got shape {signs.shape}")
    batch = x.reshape(-1, length * d)  # (B, L d)
    index = np.abs(batch[..., None] - axis).argmin(axis=-1)  # (B, L d) nearest centre
    centre = axis[index]  # (B, L d)
    height = cap.bump_height_fn(eps)
    bump = np.maximum(0.0, height - lipschitz * np.abs(batch - centre).max(axis=1))  # (B,)
    sign = signs[tuple(index.T)]  # (B, L, d)
    return (0.5 + sign * bump[:, None, None]).reshape(x.shape)
