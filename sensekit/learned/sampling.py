"""Deep Probabilistic Sub-sampling (DPS) and an unrolled proximal-gradient recovery network.

DPS (Huijben, Veeling, Janse, Mischi, van Sloun, arXiv 1908.05764; ICLR-2020 DPS code, see PAPERS.md):
trainable logits φ ∈ R^N over one axis of the data; in training each batch element draws a hard top-M
mask from the Gumbel-perturbed logits φ + G (exactly M distinct entries), and gradients flow through a
straight-through relaxation: for k = 1..M a softmax((φ + G + cumulative −∞ mask of the entries already
chosen) / τ), summed over k, is the soft mask, and ``mask = hard − stopgrad(soft) + soft``.  The
temperature τ is constant (2 in the authors' MNIST/CIFAR configs, 5 in lines-and-circles), the logits
get their own (larger) learning rate, and an entropy penalty on softmax(φ) sharpens the distribution.
Once trained the pattern is fixed: :meth:`DPSSampler.fixed_mask` is the top-M of φ.

The recovery network (:class:`UnrolledProxGrad`, "reconstructed": the TUFFC recovery network's code is
not public; this follows the verified ICLR description — unfolded proximal gradient with learned
convolutional proximal steps, not shared across unfoldings):

    x₀ = Mᵀy,   x_{k+1} = P_k( x_k − η_k Mᵀ(M x_k − y), m ),   k = 0..K−1

with η_k learned scalars and P_k a small residual CNN (input: the iterate and the mask as a channel).
For an element (row) mask on channel data (E, S) the operator M is a row selection; for the partial
Fourier problem it is a masked orthonormal FFT (any ``forward/adjoint`` pair works).
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from .unrolled import FunctionOp, Unrolled

__all__ = ["DPSSampler", "gumbel_topk_mask", "UnrolledProxGrad", "SubsampleNet", "BModeDPS", "FixedMaskMixin",
           "train_dps",
           "mask_entropy", "dps_param_groups", "dps_entropy_penalty"]


def gumbel_topk_mask(logits: torch.Tensor, m: int, *, tau: float = 2.0, batch: int = 1,
                     generator: torch.Generator | None = None, hard: bool = True) -> torch.Tensor:
    """(batch, N) straight-through top-``m`` masks drawn from ``logits`` (N,) (see the module doc).

    Returns
    -------
    torch.Tensor
        The ``(batch, N)`` masks (hard with straight-through gradients, or soft).
    """
    N = logits.shape[-1]
    if not 1 <= m <= N:
        raise ValueError(f"cannot keep {m} of {N} entries")
    u = torch.rand(batch, N, generator=generator, dtype=logits.dtype, device="cpu").to(logits.device)
    gumbel = -torch.log(-torch.log(u.clamp(1e-20, 1 - 1e-7)))
    pert = logits[None] + gumbel
    top = pert.detach().topk(m, dim=-1).indices
    hard_mask = torch.zeros_like(pert).scatter_(-1, top, 1.0)
    # relaxed top-k: m successive softmaxes, each excluding the entries chosen before (in logit space)
    soft = torch.zeros_like(pert)
    excluded = torch.zeros_like(pert, dtype=torch.bool)
    order = pert.detach().argsort(dim=-1, descending=True)
    for k in range(m):
        z = pert.masked_fill(excluded, float("-inf")) / tau
        soft = soft + torch.softmax(z, dim=-1)
        excluded = excluded.scatter(-1, order[:, k:k + 1], True)
    if not hard:
        return soft
    return hard_mask - soft.detach() + soft


def mask_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of softmax(logits) (the DPS sharpening penalty).

    Returns
    -------
    torch.Tensor
        The 0-d entropy.
    """
    p = torch.softmax(logits, dim=-1)
    return -(p * torch.log(p.clamp_min(1e-30))).sum()


class DPSSampler(nn.Module):
    """Trainable sampling distribution over ``n`` entries keeping ``m`` of them (DPS top-k)."""

    def __init__(self, n: int, m: int, *, tau: float = 2.0, init_scale: float = 1.0):
        super().__init__()
        if not 1 <= m <= n:
            raise ValueError(f"DPSSampler: cannot keep {m} of {n} entries")
        self.n, self.m, self.tau = int(n), int(m), float(tau)
        self.logits = nn.Parameter(torch.randn(n) * init_scale)

    def forward(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.training:
            return gumbel_topk_mask(self.logits, self.m, tau=self.tau, batch=batch, generator=generator)
        return self.fixed_mask().to(self.logits.dtype)[None].expand(batch, -1)

    def fixed_mask(self) -> torch.Tensor:
        """The deployed pattern: a bool (n,) mask of the top-m logits."""
        out = torch.zeros(self.n, dtype=torch.bool, device=self.logits.device)
        out[self.logits.detach().topk(self.m).indices] = True
        return out


class _Prox(nn.Module):
    def __init__(self, channels: int, features: int, layers: int, kernel: int):
        super().__init__()
        pad = tuple(k // 2 for k in kernel) if isinstance(kernel, (tuple, list)) else kernel // 2
        kernel = tuple(kernel) if isinstance(kernel, (tuple, list)) else kernel
        mods = [nn.Conv2d(channels + 1, features, kernel, padding=pad), nn.ReLU()]
        for _ in range(layers - 2):
            mods += [nn.Conv2d(features, features, kernel, padding=pad), nn.ReLU()]
        mods += [nn.Conv2d(features, channels, kernel, padding=pad)]
        self.net = nn.Sequential(*mods)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x, m):
        return x + self.net(torch.cat([x, m], dim=1))


class UnrolledProxGrad(Unrolled):
    """K unfolded proximal-gradient steps with learned step sizes and conv proximal nets (module doc).

    Built on :class:`sensekit.learned.unrolled.Unrolled`: K steps of ISTA (``FISTA(step=1,
    momentum=False)``) whose step sizes η_k = exp(ρ_k) are learned (ρ_k = 0 at start) and whose prox is
    the k-th residual CNN.  Works on (B, C, H, W) real tensors; the measurement operator is given per call
    as ``forward(x)`` / ``adjoint(y)`` callables, and ``mask_image`` (B, 1, H, W) is fed to every
    proximal net.  State dicts saved before the port (keys ``log_eta``, ``prox.k.…``) still load.
    """

    def __init__(self, *, channels: int = 1, features: int = 16, layers: int = 3, kernel: int = 3,
                 iterations: int = 4):
        from ..solvers.fista import FISTA
        nets = [_Prox(channels, features, layers, kernel) for _ in range(iterations)]
        super().__init__(FISTA(step=1.0, momentum=False), iterations=iterations, step=1.0, denoiser=nets,
                         positive="exp")
        self._config = dict(channels=channels, features=features, layers=layers, kernel=kernel,
                            iterations=iterations)
        self._register_load_state_dict_pre_hook(_legacy_unrolled_keys)

    @property
    def config(self) -> dict:
        return dict(self._config)

    @property
    def prox(self) -> nn.ModuleList:
        """The K proximal networks (the block's denoisers)."""
        return self.denoiser

    @property
    def log_eta(self) -> torch.Tensor:
        """log η_k, shape (K,)."""
        return self.raw_step

    def forward(self, y, forward: Callable, adjoint: Callable, mask_image: torch.Tensor):
        from ..solvers.problems import Composite, LeastSquares
        A = FunctionOp(forward, adjoint)
        return super().forward(Composite(LeastSquares(A, y)), A.H(y), context=(mask_image,))


def _legacy_unrolled_keys(state_dict, prefix, *args):
    """Rename the keys of an :class:`UnrolledProxGrad` saved before the port to :class:`Unrolled`."""
    for key in list(state_dict):
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix):]
        if rest == "log_eta":
            state_dict[prefix + "raw_step"] = state_dict.pop(key)
        elif rest.startswith("prox."):
            state_dict[prefix + "denoiser." + rest[5:]] = state_dict.pop(key)


class FixedMaskMixin:
    """The deployed-mask part shared by the DPS models: a learned top-M pattern (``self.sampler``) or, with
    ``learn_mask=False``, the fixed pattern held in the buffer ``fixed_buffer`` (a baseline trained on a
    fixed mask).  Call :meth:`_register_fixed` in ``__init__`` after ``self.sampler`` is set."""

    def _register_fixed(self, n: int, fixed: list | None, learn_mask: bool) -> None:
        """Register the bool (n,) buffer ``fixed_buffer`` (True at ``fixed``) and the flag ``learn_mask``.

        Parameters
        ----------
        n : int
            Length of the sub-sampled axis.
        fixed : list of int, optional
            Kept indices of the fixed mask (None: none, the learned mask is used).
        learn_mask : bool
            Use the learned DPS pattern (True) or the fixed one.
        """
        fm = torch.zeros(n, dtype=torch.bool)
        if fixed is not None:
            fm[torch.as_tensor(fixed, dtype=torch.long)] = True
        self.register_buffer("fixed_buffer", fm)
        self.learn_mask = bool(learn_mask)

    def mask(self) -> torch.Tensor:
        """The deployed mask, bool (n,): the top-M of the logits, or the fixed one."""
        return self.sampler.fixed_mask() if self.learn_mask else self.fixed_buffer.clone()


class SubsampleNet(FixedMaskMixin, nn.Module):
    """DPS sampler over the rows (axis −2) of (B, 1, H, W) data + :class:`UnrolledProxGrad` recovery.

    ``forward(x)`` draws masks (training) or uses the fixed mask (eval), zero-fills the unsampled rows,
    and recovers; returns ``(recovered, mask)``.  With ``learn_mask=False`` the mask is the fixed
    buffer ``mask`` (a baseline trained on a fixed pattern).
    """

    def __init__(self, *, n: int, m: int, tau: float = 2.0, features: int = 16, layers: int = 3,
                 kernel: int = 3, iterations: int = 4, learn_mask: bool = True, fixed: list | None = None):
        super().__init__()
        self._config = dict(n=n, m=m, tau=tau, features=features, layers=layers, kernel=kernel,
                            iterations=iterations, learn_mask=learn_mask, fixed=fixed)
        self.sampler = DPSSampler(n, m, tau=tau)
        self.recon = UnrolledProxGrad(channels=1, features=features, layers=layers, kernel=kernel,
                                      iterations=iterations)
        self._register_fixed(n, fixed, learn_mask)

    @property
    def config(self) -> dict:
        return dict(self._config)

    def recover(self, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Recover (B, 1, H, W) from zero-filled rows ``y`` with row mask ``mask`` (B, H) or (H,)."""
        if mask.ndim == 1:
            mask = mask[None].expand(y.shape[0], -1)
        m = mask.to(y.dtype)[:, None, :, None]
        mimg = m.expand(-1, 1, -1, y.shape[-1])
        return self.recon(y * m, lambda x: x * m, lambda r: r * m, mimg)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        B = x.shape[0]
        if self.learn_mask and self.training:
            mask = self.sampler(B, generator=generator)
        elif self.learn_mask:
            mask = self.sampler.fixed_mask().to(x.dtype)[None].expand(B, -1)
        else:
            mask = self.fixed_buffer.to(x.dtype)[None].expand(B, -1)
        return self.recover(x, mask), mask


def dps_param_groups(lr: float, logit_lr: float) -> Callable:
    """``param_groups(model)`` for :func:`sensekit.learned.fit`: the DPS logits (parameters named
    ``*logits``) at ``logit_lr``, every other parameter at ``lr``.

    Parameters
    ----------
    lr : float
        Learning rate of the network.
    logit_lr : float
        Learning rate of the DPS logits.

    Returns
    -------
    callable
    """
    def groups(model):
        logits = [p for n, p in model.named_parameters() if n.endswith("logits")]
        others = [p for n, p in model.named_parameters() if not n.endswith("logits")]
        out = [{"params": others, "lr": lr}]
        if logits:
            out.append({"params": logits, "lr": logit_lr})
        return out
    return groups


def dps_entropy_penalty(weight: float) -> Callable | None:
    """``penalty(model)`` for :func:`sensekit.learned.fit`: ``weight · Σ H(softmax(φ))`` over the DPS
    logits (None when ``weight`` is 0).

    Parameters
    ----------
    weight : float
        Weight of the entropy penalty.

    Returns
    -------
    callable or None
    """
    if not weight > 0:
        return None

    def penalty(model):
        logits = [p for n, p in model.named_parameters() if n.endswith("logits")]
        return weight * sum(mask_entropy(p) for p in logits) if logits else 0.0
    return penalty


def train_dps(model: nn.Module, sample: Callable, loss: Callable, *, iterations: int, lr: float = 1e-3,
              logit_lr: float = 1e-2, entropy: float = 0.0, generator: torch.Generator | None = None,
              max_seconds: float | None = None, check_every: int = 20,
              callbacks: Sequence[Callable] = ()) -> dict:
    """Adam on ``loss(model, sample(generator), generator)`` with a separate learning rate for the
    DPS logits (parameters named ``*logits``) and an entropy penalty ``entropy · H(softmax(φ))``.

    A thin wrapper of the common loop :func:`sensekit.learned.fit` (with :func:`dps_param_groups`
    and :func:`dps_entropy_penalty`).

    Parameters
    ----------
    model : nn.Module
        Trained in place.
    sample : callable
        ``sample(generator) -> batch``.
    loss : callable
        ``loss(model, batch, generator) -> Tensor`` (the generator draws the Gumbel noise).
    iterations : int
        Optimiser steps.
    lr, logit_lr : float
        Learning rates of the network and of the logits.
    entropy : float
        Weight of the entropy penalty.
    generator : torch.Generator, optional
        Drives ``sample`` and the masks.
    max_seconds : float, optional
        Stop at a check after this wall time.
    check_every : int
        Report period of ``callbacks(info, model)`` with ``info = {iter, loss, seconds}``.
    callbacks : sequence of callable
        Progress callbacks.

    Returns
    -------
    dict
        ``{"history", "iterations", "seconds", "stop_reason"}`` (``stop_reason`` "iterations" or
        "max_seconds").
    """
    from .train import fit
    res = fit(model, sample, lambda m, b: loss(m, b, generator), max_iter=iterations, lr=lr, generator=generator,
              check_every=check_every, callbacks=callbacks, max_seconds=max_seconds,
              param_groups=dps_param_groups(lr, logit_lr), penalty=dps_entropy_penalty(entropy))
    return {"history": res.history, "iterations": res.iterations, "seconds": res.seconds,
            "stop_reason": "iterations" if res.stop_reason == "max_iter" else res.stop_reason}


class BModeDPS(FixedMaskMixin, nn.Module):
    """Task-driven DPS for B-mode imaging from a sub-set of receive elements (image-domain recovery).

    The DAS image of the kept elements is linear in the element weights, so with the per-element delayed
    and apodised channel data ``D`` (B, E, P) (see :class:`sensekit.linop.ultrasound.DASPlan`,
    ``per_element=True``) the sub-aperture image is ``Σ_e mask_e D_e``; the mask is the DPS draw
    (training) or the fixed top-M pattern (eval).  Its B-mode (dB, own maximum, clipped at −DR, scaled
    to [0, 1]) is refined by a residual CNN into the full-aperture B-mode.  "Reconstructed" design:
    the TUFFC B-mode network is not public; the loss is the MSE of the normalised B-mode (the task).
    """

    def __init__(self, *, n: int, m: int, tau: float = 2.0, features: int = 12, layers: int = 3,
                 kernel: int = 3, dynamic_range: float = 60.0, learn_mask: bool = True,
                 fixed: list | None = None):
        super().__init__()
        self._config = dict(n=n, m=m, tau=tau, features=features, layers=layers, kernel=kernel,
                            dynamic_range=dynamic_range, learn_mask=learn_mask, fixed=fixed)
        self.sampler = DPSSampler(n, m, tau=tau)
        self.refine = _Prox(1, features, layers, kernel)
        self._register_fixed(n, fixed, learn_mask)
        self.dynamic_range = float(dynamic_range)

    @property
    def config(self) -> dict:
        return dict(self._config)

    def normalised_bmode(self, img: torch.Tensor) -> torch.Tensor:
        env = img.abs()
        db = 20 * torch.log10(env.clamp_min(1e-30) / env.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-30))
        return db.clamp(min=-self.dynamic_range) / self.dynamic_range + 1.0

    def refine_image(self, img: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, Z, X) complex sub-aperture image → normalised B-mode estimate in [0, 1] (B, Z, X)."""
        b = self.normalised_bmode(img)[:, None]
        frac = (mask.to(b.dtype).mean(dim=-1) if mask.ndim == 2 else mask.to(b.dtype).mean().expand(b.shape[0]))
        out = self.refine(b, frac[:, None, None, None].expand_as(b))
        return out[:, 0]

    def forward(self, D: torch.Tensor, shape: tuple, generator: torch.Generator | None = None):
        """``D`` (B, E, P) per-element delayed data → (normalised B-mode (B, Z, X), mask (B, E))."""
        B = D.shape[0]
        if self.learn_mask and self.training:
            mask = self.sampler(B, generator=generator)
        else:
            mask = self.mask().to(D.real.dtype)[None].expand(B, -1)
        img = torch.einsum("be,bep->bp", mask.to(D.dtype), D).reshape(B, *shape)
        return self.refine_image(img, mask), mask
