"""Pull the generator's rate of each binary semantic toward the training images' rate.

An unconditional GAN can drop part of a mode and keep it dropped: the demo
model drew beds in 38 % of its rooms where the world has them in 50 %, and
neither discriminator's loss moved it back. This term does, in the spirit of
feature matching (Salimans et al., 2016), on a predictor's outputs: for each
binary semantic (a bed, daylight), the batch mean of the predicted
probability on generated images is pulled toward its mean on the training
images. The loss is ½ Σ_s (μ_s − t_s)², with μ_s the generator's rate; its
gradient is (μ_s − t_s) ∂μ_s/∂θ. A batch of 32 is too few to estimate μ_s
(its noise, 0.09, is the size of the gaps), and the squared batch mean would
also reward making every image half a bed (it penalizes the batch's
variance), so μ_s in the factor is a running mean over the batches before
this one, and only this batch's mean carries gradient.

The predictor should not be the one the model is judged by: trained with
one predictor (another seed of the rooms predictor), checked with the
shipped one; see docs/training.md.
"""

from __future__ import annotations

import torch

from strata.engine.discovery.predictors import prepare_images
from strata.engine.rooms.predictor import RoomsPredictor

__all__ = ["FrequencyMatch"]


class FrequencyMatch:
    """Running rates and the matching loss for a :class:`RoomsPredictor`'s binary semantics.

    Parameters
    ----------
    predictor : RoomsPredictor
        Frozen here (eval mode, no gradients to its weights).
    target : tensor [S]
        The training images' mean probability for each binary semantic
        (:meth:`rates` of a sample of them).
    momentum : float
        Of the running mean of the generator's rates. 0.9 averages about 10
        batches: noise about 0.02 at a batch of 32, and a lag of about 10
        steps, short beside how fast a generator's rates move (a longer lag
        keeps pushing after the rate has arrived, and overshoots).
    """

    def __init__(self, predictor: RoomsPredictor, target: torch.Tensor, *, momentum: float = 0.9):
        self.predictor = predictor.eval().requires_grad_(False)
        self.names = tuple(s.name for s in predictor.semantics if s.kind == "binary")
        self._index = torch.tensor([i for i, s in enumerate(predictor.semantics) if s.kind == "binary"])
        if target.shape != (len(self.names),):
            raise ValueError(f"target must give {len(self.names)} rates ({', '.join(self.names)}), "
                             f"got shape {tuple(target.shape)}")
        self.target = target.detach().float().to(predictor.device)
        self.momentum = momentum
        self.running: torch.Tensor | None = None  # the generator's rates; set by the first batch

    @classmethod
    def from_images(cls, predictor: RoomsPredictor, real: torch.Tensor, **kw) -> FrequencyMatch:
        """Matching toward the rates ``predictor`` reads in ``real`` images."""
        m = cls(predictor, torch.zeros(sum(s.kind == "binary" for s in predictor.semantics)), **kw)
        m.target = m.rates(real.to(predictor.device))
        return m

    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """``[n, S]`` probabilities of the binary semantics, differentiable in the pixels."""
        p = self.predictor
        p.eval()
        logits = p.logits(prepare_images(images, p.input_resolution, clamp=False))
        return torch.sigmoid(logits[:, self._index.to(logits.device)])

    @torch.no_grad()
    def rates(self, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
        """Mean probability of each binary semantic over ``images`` (for the target)."""
        total = sum(self.probabilities(images[i:i + batch]).sum(0) for i in range(0, len(images), batch))
        return total / len(images)

    def loss(self, fake: torch.Tensor) -> torch.Tensor:
        """The matching loss for a batch of generated images; updates the running rates.

        Its value is Σ_s (μ_s − t_s) · batch mean_s, whose gradient is that of
        ½ Σ_s (μ_s − t_s)²; :meth:`gap` is the figure to log.
        """
        batch = self.probabilities(fake).mean(0)
        # The factor is read before this batch joins the running rates: a factor that held the
        # batch's own noise would again reward half-drawn objects, a little.
        factor = (batch if self.running is None else self.running).detach() - self.target
        with torch.no_grad():
            if self.running is None:
                self.running = batch.detach().clone()
            else:
                self.running.lerp_(batch.detach(), 1 - self.momentum)
        return (factor * batch).sum()

    def gap(self) -> float:
        """Largest |running rate − target| over the semantics (NaN before the first batch)."""
        if self.running is None:
            return float("nan")
        return float((self.running - self.target).abs().max())
