"""A second discriminator that judges images by a frozen predictor's features.

Training a GAN against a discriminator head on a pretrained network's
features, beside the usual one, is the "vision-aided" GAN of Kumari et al.
(CVPR 2022; Projected GANs, Sauer et al. 2021, are the same idea with the
usual discriminator replaced). A pretrained trunk already separates what
matters, here rugs, beds and clutter, so the head tells generated from
rendered rooms by their semantics long before the pixel discriminator learns
to, and the generator is pushed to produce them as often as the world does.

The trunk is the rooms predictor's, frozen (batch-norm in eval mode); only the
small head trains. The trunk is also what ``strata evaluate`` reads, so a
model trained this way should be checked with a predictor trained apart
(another seed); see docs/training.md.
"""

from __future__ import annotations

import torch
from torch import nn

from strata.engine.discovery.predictors import prepare_images
from strata.engine.rooms.predictor import RoomsPredictor

__all__ = ["FeatureDiscriminator"]


class FeatureDiscriminator(nn.Module):
    """Logits ``[n]`` for 64x64 images in [-1, 1], from a frozen :class:`RoomsPredictor`.

    Two heads, summed: a small conv head on the trunk's 8x8 map (where
    objects are still apart), and an MLP on its feature vector (what the
    semantic heads read). Only the heads are in :meth:`state_dict`; the
    predictor is given at construction and never changes.
    """

    def __init__(self, predictor: RoomsPredictor, *, hidden: int = 64):
        super().__init__()
        # Kept out of the module tree: not saved with the head, not in parameters(), never trained.
        object.__setattr__(self, "_predictor", predictor.eval().requires_grad_(False))
        c8 = predictor.channels[3]
        self.map_head = nn.Sequential(
            nn.Conv2d(c8, hidden, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(hidden, hidden, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(hidden * 4 * 4, 1))
        self.vec_head = nn.Sequential(
            nn.Linear(predictor.feature_dim, 2 * hidden), nn.LeakyReLU(0.2), nn.Linear(2 * hidden, 1))

    def to(self, *args, **kwargs):
        self._predictor.to(*args, **kwargs)
        return super().to(*args, **kwargs)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        p = self._predictor
        p.eval()  # batch-norm reads its running statistics whatever mode the caller set
        # Read as predict() reads (checked, resized), but not clamped to [-1, 1].
        map8 = p.trunk[:4](prepare_images(images, p.input_resolution, clamp=False))  # down to 8x8
        vec = p.fc(p.trunk[4:](map8))
        return (self.map_head(map8) + self.vec_head(vec)).squeeze(1)
