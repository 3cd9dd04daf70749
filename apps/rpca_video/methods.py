"""rpca-video batch methods: a background model of the whole clip, a residual, an automatic mask.

Every method has the signature ``fn(inputs, opts, *, generator, callbacks=()) -> (outputs, iterations,
info)`` with ``inputs["frames"]`` a float Tensor (T, H, W) or (T, H, W, 3) and outputs
``background``, ``foreground`` (= frames − background, same shape) and ``mask`` bool (T, H, W).
A clip is a matrix per channel, pixels × frames (Casorati); colour channels are a batch (a background
per channel) and the mask combines the channels (see :mod:`.masks`).  The block-by-block methods with
bounded memory are in :mod:`.stream`.
"""
from __future__ import annotations

import math

import torch

from sensekit.io.errors import ConfigError, InputError
from sensekit.solvers import GoDec, MaxIter, PCP, RelChange, Residual, dpd_alpha, dpd_rank, rsvd_dpd, solve

from . import options as O
from .masks import data_span, foreground_mask


def check_frames(frames: torch.Tensor, name: str = "frames") -> torch.Tensor:
    """Validate a clip: float (T, H, W) or (T, H, W, 3), finite, T >= 2."""
    if not isinstance(frames, torch.Tensor):
        raise InputError(f"{name}: expected a tensor, got {type(frames).__name__}")
    if frames.ndim not in (3, 4) or (frames.ndim == 4 and frames.shape[-1] != 3):
        raise InputError(f"{name}: expected shape (T, H, W) or (T, H, W, 3), got {tuple(frames.shape)}")
    if frames.shape[0] < 2 or frames.shape[1] < 1 or frames.shape[2] < 1:
        raise InputError(f"{name}: need at least 2 frames of at least 1×1 pixels, got {tuple(frames.shape)}")
    if not frames.is_floating_point():
        frames = frames.to(torch.float32)
    if not bool(torch.isfinite(frames).all()):
        raise InputError(f"{name}: contains NaN or Inf")
    return frames


def to_matrix(frames: torch.Tensor) -> torch.Tensor:
    """(T, H, W[, C]) → (C, H·W, T): one pixels × frames matrix per channel."""
    X = frames if frames.ndim == 4 else frames[..., None]
    T, H, W, C = X.shape
    return X.permute(3, 1, 2, 0).reshape(C, H * W, T)


def from_matrix(M: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`to_matrix` for a clip shaped like ``like``."""
    T, H, W = like.shape[:3]
    C = M.shape[0]
    X = M.reshape(C, H, W, T).permute(3, 1, 2, 0)
    return X if like.ndim == 4 else X[..., 0]


def finish(frames: torch.Tensor, background: torch.Tensor, opts, info: dict | None = None,
           iterations: int = 0) -> tuple[dict, int, dict]:
    """Outputs from a background: residual, mask by the automatic threshold, the threshold in ``info``."""
    fg = frames - background
    mask, thr = foreground_mask(fg, threshold=opts.threshold, morph=opts.morph, min_sigma=opts.min_sigma,
                                span=data_span(frames))
    out = {"background": background, "foreground": fg, "mask": mask}
    return out, iterations, {**(info or {}), **thr}


class _Count:
    def __init__(self):
        self.n = 0

    def __call__(self, info, state):
        self.n += 1


def rsvddpd(inputs: dict, opts: O.RSVDDPDOptions, *, generator=None, callbacks=()):
    """Background by the robust SVD with density power divergence (rSVDdpd), rank 1 by default.

    Notes
    -----
    Per channel, the pixels × frames matrix ``X`` is approximated by
    ``Σ_{r≤k} λ_r a_r b_rᵀ``, each term minimising the density power divergence
    of the residuals (weights ``exp(−α r²/2)`` on the IQR-normalised data; see
    :func:`sensekit.solvers.rsvd_dpd`).  Rank 1 and α = 0.5 as in the authors'
    video experiments; ``rank = 0`` picks the rank by their DICMR rule and a
    negative ``alpha`` picks α by their bias–variance rule (both on the first
    channel).  Start (``init="median"``): the temporal-median image and unit
    frame gains — a start only; the fixed point is the authors'.  The fixed
    points are warm-started (:class:`sensekit.solvers.RankOneDPD`).

    References
    ----------
    S. Roy, A. Basu, A. Ghosh, "A new robust scalable singular value
    decomposition algorithm for video surveillance background modelling",
    arXiv:2109.10680.
    """
    frames = check_frames(inputs["frames"])
    M = to_matrix(frames)
    C, P, T = M.shape
    alpha, info = opts.alpha, {}
    kw = dict(tol=opts.tol, max_iter=opts.max_iter, inner_iter=opts.inner_iter, warm_start=True)
    if alpha < 0:
        alpha, grid, scores = dpd_alpha(M[0], generator=generator, **kw)
        info["alpha_scores"] = dict(zip([round(a, 4) for a in grid.tolist()], scores.tolist()))
    rank = opts.rank
    if rank == 0:
        K = min(opts.max_rank, P, T)
        rank, scores = dpd_rank(M[0], alpha=max(alpha, 1e-3), max_rank=K, generator=generator, **kw)
        info["dicmr"] = scores["dicmr"].tolist()
    if rank > min(P, T):
        raise ConfigError(f"option 'rank': {rank} exceeds min(pixels, frames) = {min(P, T)}")
    x0 = None
    if opts.init == "median":
        med = M.median(dim=-1).values                                   # (C, P)
        nrm = torch.linalg.vector_norm(med, dim=-1).clamp_min(torch.finfo(M.dtype).tiny)
        U0 = med[..., None] / nrm[..., None, None]
        V0 = torch.full((C, T, 1), 1 / math.sqrt(T), dtype=M.dtype, device=M.device)
        if rank == 1:
            x0 = (U0, nrm[..., None] * math.sqrt(T), V0.mT)
        else:
            gdev = generator.device if generator is not None else M.device
            extra_u = torch.rand((C, P, rank - 1), generator=generator, dtype=M.dtype, device=gdev).to(M.device)
            extra_v = torch.rand((C, T, rank - 1), generator=generator, dtype=M.dtype, device=gdev).to(M.device)
            x0 = (torch.cat([U0, extra_u], -1), torch.cat([V0, extra_v], -1))
    count = _Count()
    U, s, Vh = rsvd_dpd(M, rank, alpha=alpha, x0=x0, generator=generator, callbacks=(count, *callbacks),
                        sigma_update=opts.sigma == "estimate", sigma2_min=opts.sigma2_min, **kw)
    L = (U * s[..., None, :]) @ Vh
    info.update(rank=rank, alpha=alpha, singular_values=s.tolist())
    return finish(frames, from_matrix(L, frames), opts, info, count.n)


def svd(inputs: dict, opts: O.SVDOptions, *, generator=None, callbacks=()):
    """Background by the truncated SVD (plain PCA, not robust): the reference that tampering damages."""
    frames = check_frames(inputs["frames"])
    M = to_matrix(frames)
    if opts.rank > min(M.shape[-2:]):
        raise ConfigError(f"option 'rank': {opts.rank} exceeds min(pixels, frames) = {min(M.shape[-2:])}")
    U, s, Vh = torch.linalg.svd(M, full_matrices=False)
    k = opts.rank
    L = (U[..., :k] * s[..., None, :k]) @ Vh[..., :k, :]
    return finish(frames, from_matrix(L, frames), opts, {"singular_values": s[..., :k].tolist()}, 1)


def pcp(inputs: dict, opts: O.PCPOptions, *, generator=None, callbacks=()):
    """Background = low-rank part of principal component pursuit (inexact ALM), per channel.

    ``min ‖L‖_* + λ‖S‖_1  s.t.  L + S = X`` with ``λ = lam / sqrt(max(pixels, frames))``
    (``lam`` = 0 means 1, Candès et al.); see :func:`sensekit.solvers.pcp`.  The foreground output is
    ``X − L`` (= S up to the constraint residual ``tol``), thresholded by the automatic rule.
    """
    frames = check_frames(inputs["frames"])
    M = to_matrix(frames)
    lam = (opts.lam or 1.0) / math.sqrt(max(M.shape[-2:]))
    res = solve(PCP(lam=lam, max_iter=opts.max_iter, tol=opts.tol), M,
                stop=MaxIter(opts.max_iter) | Residual(opts.tol), callbacks=callbacks, check_every=5)
    L = res.state.L
    return finish(frames, from_matrix(L, frames), opts, {"stop_reason": res.stop_reason, "lam": lam},
                  res.iterations)


def godec(inputs: dict, opts: O.GoDecOptions, *, generator=None, callbacks=()):
    """Background = low-rank part of GoDec (rank and sparse-cardinality projections), per channel."""
    frames = check_frames(inputs["frames"])
    M = to_matrix(frames)
    P, T = M.shape[-2:]
    if opts.rank > min(P, T):
        raise ConfigError(f"option 'rank': {opts.rank} exceeds min(pixels, frames) = {min(P, T)}")
    card = int(round(opts.card * P * T))
    res = solve(GoDec(rank=opts.rank, card=card, power_iters=opts.power_iters, generator=generator,
                      max_iter=opts.max_iter, tol=opts.tol), M,
                stop=MaxIter(opts.max_iter) | RelChange(opts.tol), callbacks=callbacks)
    return finish(frames, from_matrix(res.state.L, frames), opts, {"stop_reason": res.stop_reason, "card": card},
                  res.iterations)


def sliding_median(frames: torch.Tensor, window: int, *, chunk: int = 16) -> torch.Tensor:
    """Per-pixel temporal median over a centred window of ``window`` frames (clipped at the ends)."""
    T = frames.shape[0]
    W = min(int(window), T)
    starts = torch.clamp(torch.arange(T) - W // 2, 0, T - W)
    win = frames.unfold(0, W, 1)                          # (T − W + 1, H, W, [C,] W) view
    out = torch.empty_like(frames)
    for i in range(0, T, chunk):
        idx = starts[i:i + chunk].to(frames.device)
        out[i:i + chunk] = win[idx].median(dim=-1).values
    return out


def median(inputs: dict, opts: O.MedianOptions, *, generator=None, callbacks=()):
    """Background = per-pixel temporal median of the clip (or of a centred sliding window of frames)."""
    frames = check_frames(inputs["frames"])
    if opts.window == 0 or opts.window >= frames.shape[0]:
        bg = frames.median(dim=0, keepdim=True).values.expand_as(frames).contiguous()
    else:
        bg = sliding_median(frames, opts.window)
    return finish(frames, bg, opts, {"window": opts.window}, 1)


#: method name -> (function, options class, one-line description); the streaming ones are in stream.py
METHODS = {
    "rsvddpd": (rsvddpd, O.RSVDDPDOptions, "robust SVD by density power divergence (Roy, Basu & Ghosh), rank 1"),
    "pcp": (pcp, O.PCPOptions, "principal component pursuit by inexact ALM (Candès et al.)"),
    "godec": (godec, O.GoDecOptions, "GoDec low-rank + sparse projections (Zhou & Tao)"),
    "median": (median, O.MedianOptions, "per-pixel temporal median (whole clip or sliding window)"),
    "svd": (svd, O.SVDOptions, "truncated SVD (plain PCA): a non-robust reference"),
}
