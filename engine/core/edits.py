"""Layer-wise boundary edits of a W+ code, as in HiGAN.

An :class:`Edit` moves the code along a boundary's unit normal by
``strength`` on an inclusive range of layers only; several edits add up.
On layers that the generator truncates toward the mean (``w_avg + psi *
(w - w_avg)``), HiGAN scales the step by ``psi``, so that editing the
truncated code moves it exactly as far as truncating the edited code would:
``truncate(w + s * n) == truncate(w) + s * psi * n`` on those layers.

Public API
----------
Edit
    A frozen (boundary, strength, layers) record.
layerwise_strength(num_layers, truncation_psi, truncation_layers) -> numpy.ndarray
apply_edits(wp, edits, *, truncation_psi=1.0, truncation_layers=0) -> torch.Tensor
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from strata.engine.core.boundary import Boundary, check_layer_range
from strata.engine.core.errors import BoundaryError, RecipeError
from strata.engine.core.limits import check_strength

__all__ = ["Edit", "apply_edits", "layerwise_strength"]


@dataclass(frozen=True, eq=False)
class Edit:
    """Move along ``boundary`` by ``strength`` on layers ``first..last``.

    Parameters
    ----------
    boundary : Boundary
        The direction (unit normal, or one per layer).
    strength : float
        Signed distance moved in W (before truncation), on each chosen layer.
    layers : (int, int)
        Inclusive layer range ``(first, last)``.
    """

    boundary: Boundary
    strength: float
    layers: tuple[int, int]

    def __post_init__(self):
        if not isinstance(self.boundary, Boundary):
            raise TypeError(f"Edit.boundary must be a Boundary, got {type(self.boundary).__name__}")
        strength = check_strength(self.strength, ValueError, f"edit on {self.boundary.name!r}: strength")
        first, last = check_layer_range(self.layers, f"edit on {self.boundary.name!r}", ValueError)
        object.__setattr__(self, "strength", strength)
        object.__setattr__(self, "layers", (first, last))

    @classmethod
    def with_default_layers(cls, boundary: Boundary, strength: float, *, num_layers: int) -> Edit:
        """An edit on the boundary's default layers (clipped to the model), else on all layers."""
        top = int(num_layers) - 1
        if top < 0:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        if boundary.layers is None:
            return cls(boundary, strength, (0, top))
        first, last = boundary.layers
        return cls(boundary, strength, (min(first, top), min(last, top)))

    def check_fits(self, *, w_dim: int, num_layers: int) -> None:
        """Raise unless this edit can move a code of a model with ``w_dim`` and ``num_layers``.

        The one compatibility check of an edit against a model: the boundary's
        directions (:meth:`Boundary.check_compatible`), then the layer range.

        Raises
        ------
        BoundaryError
            The boundary's dimension or number of per-layer directions
            differs, or the edit's layers go past the model's last layer (a
            recipe made for a deeper model): a user's mistake, so the window
            shows it as one line, not as an internal error.
        """
        b = self.boundary
        b.check_compatible(w_dim=w_dim, num_layers=num_layers, source=b.name)
        first, last = self.layers
        if last >= num_layers:
            raise BoundaryError(f"edit on {b.name!r}: layers {first}-{last} are outside the model's "
                             f"layers 0-{num_layers - 1}")

    def fits(self, *, w_dim: int, num_layers: int) -> bool:
        """True when :meth:`check_fits` would pass."""
        try:
            self.check_fits(w_dim=w_dim, num_layers=num_layers)
        except BoundaryError:
            return False
        return True

    def to_dict(self) -> dict:
        """JSON-able record; the boundary is referred to by name and fingerprint."""
        return {
            "boundary": self.boundary.name,
            "boundary_fingerprint": self.boundary.fingerprint,
            "strength": self.strength,
            "layers": [self.layers[0], self.layers[1]],
        }

    @classmethod
    def from_dict(cls, data: Mapping, boundary: Boundary, *,
                  check_fingerprint: bool = True) -> Edit:
        """Rebuild an edit from :meth:`to_dict` output and the boundary it names.

        Raises
        ------
        RecipeError
            Malformed data, a boundary with another name, or (when
            ``check_fingerprint``) a boundary whose vector differs from the
            one the edit was made with.
        """
        try:
            name = data["boundary"]
            strength = data["strength"]
            layers = tuple(data["layers"])
        except (KeyError, TypeError) as exc:
            raise RecipeError(f"edit record is missing a field ({exc})") from None
        if name != boundary.name:
            raise RecipeError(f"edit refers to boundary {name!r}, not {boundary.name!r}")
        recorded = data.get("boundary_fingerprint")
        if check_fingerprint and recorded is not None and recorded != boundary.fingerprint:
            raise RecipeError(f"edit on {name!r} was made with a different boundary of that name "
                              "(its fingerprint does not match)")
        try:
            return cls(boundary, strength, layers)
        except (TypeError, ValueError) as exc:
            raise RecipeError(str(exc)) from None


def layerwise_strength(num_layers: int, truncation_psi: float,
                       truncation_layers: int) -> np.ndarray:
    """Per-layer factor on an edit's step: ``psi`` where truncated, 1 elsewhere.

    Parameters
    ----------
    num_layers : int
        Number of W+ layers.
    truncation_psi : float
        Truncation strength (1 = no truncation).
    truncation_layers : int
        How many leading layers are truncated (clipped to ``num_layers``).

    Returns
    -------
    numpy.ndarray
        float64 ``[num_layers]``.
    """
    num_layers, truncation_layers = int(num_layers), int(truncation_layers)
    psi = float(truncation_psi)
    if num_layers < 1:
        raise ValueError(f"num_layers must be at least 1, got {num_layers}")
    if truncation_layers < 0:
        raise ValueError(f"truncation_layers must be >= 0, got {truncation_layers}")
    if not math.isfinite(psi):
        raise ValueError(f"truncation_psi must be a finite number, got {truncation_psi!r}")
    strength = np.ones(num_layers, dtype=np.float64)
    strength[: min(truncation_layers, num_layers)] = psi
    return strength


def apply_edits(wp: torch.Tensor, edits: Sequence[Edit], *, truncation_psi: float = 1.0,
                truncation_layers: int = 0) -> torch.Tensor:
    """Apply ``edits`` to a W+ code; the input is not modified.

    Parameters
    ----------
    wp : torch.Tensor
        ``[N, num_layers, w_dim]``, floating point, on any device.
    edits : sequence of Edit
        Applied together; their steps add up.
    truncation_psi, truncation_layers
        The truncation ``wp`` went through (see :func:`layerwise_strength`).

    Returns
    -------
    torch.Tensor
        A new tensor with the dtype and device of ``wp``.

    Raises
    ------
    BoundaryError
        A boundary whose dimension (or number of per-layer directions) does
        not match ``wp``.
    ValueError
        ``wp`` has the wrong shape or dtype, or an edit's layers fall outside
        ``0..num_layers-1``.
    """
    if not isinstance(wp, torch.Tensor) or wp.ndim != 3:
        shape = list(wp.shape) if isinstance(wp, torch.Tensor) else type(wp).__name__
        raise ValueError(f"wp must be a [N, num_layers, w_dim] tensor, got {shape}")
    if not wp.is_floating_point():
        raise ValueError(f"wp must be floating point, got {wp.dtype}")
    _, num_layers, w_dim = wp.shape
    scale = layerwise_strength(num_layers, truncation_psi, truncation_layers)
    # Sum the steps in float64 on the host: [L, D] is tiny, and one transfer
    # and one add keep the result independent of the order of the edits.
    delta = np.zeros((num_layers, w_dim), dtype=np.float64)
    for edit in edits:
        # Every edit, even at strength 0: a row that does not fit the model is an error
        # whether or not it moves the code yet.
        edit.check_fits(w_dim=w_dim, num_layers=num_layers)
        if edit.strength == 0.0:
            continue
        b = edit.boundary
        first, last = edit.layers
        rows = slice(first, last + 1)
        direction = b.vector[rows] if b.layerwise else b.vector[None, :]
        delta[rows] += edit.strength * scale[rows, None] * direction.astype(np.float64)
    step = torch.from_numpy(delta).to(device=wp.device, dtype=wp.dtype)
    return wp + step
