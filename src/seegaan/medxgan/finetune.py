"""Adapting a trained medXGAN generator to another classifier: a short warm-started fine-tune.

A medXGAN generator explains the classifier C it was trained against: its class code z2
carries what *that* C calls positive. Explaining another model with it would show the old
C's reasons. Training a new generator from scratch takes about an hour on a CPU, so this
starts from a trained generator G0 and fine-tunes it briefly against the new C:

    loss = BCE(C(G(z1, c z2)), c) + anchor * MSE(G(z1, c z2), G0(z1, c z2))

with c ~ Bernoulli(p_pos), p_pos the share of ``films`` the new C calls positive. There is
no discriminator (G0's checkpoint holds no D, and training one from scratch would cost most
of a full run): G0's own images are the realism anchor, so the generator changes only as
far as the new C needs to separate its classes. The price, stated wherever the result is
used: with no discriminator nothing stops small pixel patterns that move C without looking
like anatomy, so the generated-class accuracy (reported) says the class code now matches
C, not that its frames look real.

Example::

    G0, _ = load_medxgan(None)
    C = PositiveClass(model, ClassifierSpec(threshold=400.0), 64)
    G, record = finetune_generator(G0, C, films, FinetuneConfig(steps=60))
    record["class_acc"]
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F

from seegaan.errors import InputError, OptionError
from seegaan.medxgan.classifier import PositiveClass
from seegaan.medxgan.networks import MedXGANGenerator


@dataclass
class FinetuneConfig:
    steps:   int = 30          # generator updates
    batch:   int = 16
    lr:      float = 5e-4      # Adam; higher than a full run's 2e-4 because the run is short
    anchor:  float = 10.0      # weight of MSE to G0's image (images in [-1, 1])
    seed:    int = 0
    val_samples: int = 256     # generated films for the class accuracy (half positive)

    def check(self) -> None:
        if self.steps < 1 or self.batch < 2:
            raise OptionError("medXGAN fine-tune: needs steps >= 1 and batch >= 2")
        if self.anchor < 0 or self.lr <= 0:
            raise OptionError("medXGAN fine-tune: anchor must be >= 0 and lr > 0")
        if self.val_samples < 2 or self.val_samples % 2:
            raise OptionError(f"val_samples {self.val_samples}: need an even number >= 2")


@torch.no_grad()
def positive_share(C: PositiveClass, films: torch.Tensor) -> float:
    """The share of ``films`` C calls positive: the generator's class prior."""
    share = float((C.prob_batched(films) > 0.5).float().mean())
    if not 0.0 < share < 1.0:
        raise InputError(f"C calls {share:.0%} of the films positive; medXGAN needs both classes")
    return share


def finetune_generator(G0: MedXGANGenerator, C: PositiveClass, films: torch.Tensor,
                       cfg: FinetuneConfig | None = None) -> tuple[MedXGANGenerator, dict[str, Any]]:
    """A copy of ``G0`` fine-tuned against ``C`` (see the module docstring); ``G0`` is unchanged.

    ``films`` (N, 1, S, S) in [-1, 1] set the class prior only. Returns the generator (eval,
    frozen) and a record: the options, p_pos, the first and last losses, the seconds taken,
    and the generated-class accuracy of G0 and of the result against C.
    """
    from seegaan.medxgan.train import class_accuracy

    cfg = cfg or FinetuneConfig()
    cfg.check()
    t0 = time.perf_counter()
    p_pos = positive_share(C, films)
    before = class_accuracy(G0, C, cfg.val_samples, seed=cfg.seed + 1)
    G = copy.deepcopy(G0).train().requires_grad_(True)
    G0 = G0.eval().requires_grad_(False)
    opt = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.0, 0.99))
    gen = torch.Generator().manual_seed(cfg.seed)
    mc = G.cfg
    losses = []
    for _ in range(cfg.steps):
        z1 = torch.randn(cfg.batch, mc.z1_dim, generator=gen)
        z2 = torch.randn(cfg.batch, mc.z2_dim, generator=gen)
        c = (torch.rand(cfg.batch, generator=gen) < p_pos).float()
        code = c[:, None] * z2
        with torch.no_grad():
            ref = G0(z1, code)
        fake = G(z1, code)
        loss_cls = C.bce(fake, c)
        loss_anchor = F.mse_loss(fake, ref)
        loss = loss_cls + cfg.anchor * loss_anchor
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append((loss_cls.item(), loss_anchor.item()))
    G.eval().requires_grad_(False)
    after = class_accuracy(G, C, cfg.val_samples, seed=cfg.seed + 1)
    record = {"finetune": asdict(cfg), "p_pos": p_pos, "n_films": int(len(films)),
              "loss_cls_first": losses[0][0], "loss_cls_last": losses[-1][0],
              "anchor_mse_last": losses[-1][1], "seconds": time.perf_counter() - t0,
              "class_acc_before": before["class_acc"], **after}
    return G, record
