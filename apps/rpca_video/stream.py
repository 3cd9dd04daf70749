"""rpca-video block-by-block methods: bounded memory for videos of any length, or a live feed.

A streaming method is an object with ``start(block) -> state`` and ``step(state, block) -> (state,
outputs)``: ``block`` a float Tensor (B, H, W) or (B, H, W, 3) of consecutive frames, ``outputs`` the
``background``, ``foreground`` and ``mask`` of those frames; the state (a few images) is all that is
carried from block to block, so memory does not grow with the length of the video.
:func:`run_stream` drives one over any iterable of blocks (a reader's ``blocks(n)``), and
:func:`stream_rsvddpd` / :func:`stream_median` are the method functions over a clip in memory, with
the signature of :mod:`.methods`.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Iterator

import torch

from sensekit.io.errors import InputError
from sensekit.solvers import OnlineDPD, OnlineDPDState

from . import options as O
from .masks import data_span, foreground_mask
from .methods import check_frames, from_matrix, to_matrix


def _outputs(block, bg, opts, span):
    fg = block - bg
    mask, thr = foreground_mask(fg, threshold=opts.threshold, morph=opts.morph, min_sigma=opts.min_sigma,
                                span=span)
    return {"background": bg, "foreground": fg, "mask": mask}, thr


@dataclasses.dataclass(frozen=True)
class DPDStreamState:
    dpd: OnlineDPDState
    span: float
    frames: int
    shape: tuple


class DPDStream:
    """Streaming rank-one rSVDdpd: the background image tracked block by block (:class:`sensekit.solvers.OnlineDPD`).

    Each block's frames get their own gain (the right singular vector) and the background image is
    updated from the discounted DPD-weighted sums of all frames seen (effective memory ``memory``
    frames); foreground masks use the automatic threshold estimated on each block.
    """

    def __init__(self, opts: O.StreamDPDOptions):
        self.opts = opts
        self.solver = OnlineDPD(alpha=opts.alpha, forget=1 - 1 / opts.memory, sweeps=opts.sweeps,
                                inner_iter=opts.inner_iter, sigma_update=opts.sigma == "estimate",
                                sigma2_min=opts.sigma2_min)

    def start(self, block: torch.Tensor) -> DPDStreamState:
        block = check_frames(block, "first block") if block.shape[0] > 1 else block
        return DPDStreamState(dpd=self.solver.init(to_matrix(block)), span=data_span(block), frames=0,
                              shape=tuple(block.shape[1:]))

    def step(self, state: DPDStreamState, block: torch.Tensor):
        if tuple(block.shape[1:]) != state.shape:
            raise InputError(f"block of frames {tuple(block.shape[1:])} differs from the first block's {state.shape}")
        M = to_matrix(block)
        dpd, d = self.solver.update(state.dpd, M)
        L = dpd.x[..., :, None] * d[..., None, :]
        out, thr = _outputs(block, from_matrix(L, block), self.opts, state.span)
        new = DPDStreamState(dpd=dpd, span=state.span, frames=state.frames + block.shape[0], shape=state.shape)
        return new, {**out, "info": thr}


@dataclasses.dataclass(frozen=True)
class MedianStreamState:
    history: torch.Tensor    # the last ≤ window − 1 frames
    span: float
    frames: int
    shape: tuple


class MedianStream:
    """Causal sliding temporal median: each frame's background is the median of the last ``window`` frames."""

    def __init__(self, opts: O.StreamMedianOptions):
        self.opts = opts

    def start(self, block: torch.Tensor) -> MedianStreamState:
        return MedianStreamState(history=block[:0], span=data_span(block), frames=0, shape=tuple(block.shape[1:]))

    def step(self, state: MedianStreamState, block: torch.Tensor):
        if tuple(block.shape[1:]) != state.shape:
            raise InputError(f"block of frames {tuple(block.shape[1:])} differs from the first block's {state.shape}")
        W = self.opts.window
        hist = torch.cat([state.history, block])
        h0 = state.history.shape[0]
        bg = torch.empty_like(block)
        full = [i for i in range(block.shape[0]) if h0 + i + 1 >= W]
        for i in range(block.shape[0]):               # the first frames of the video: a shorter window
            if h0 + i + 1 < W:
                bg[i] = hist[: h0 + i + 1].median(dim=0).values
        if full:
            win = hist.unfold(0, W, 1)                  # window ending at frame h: index h − W + 1
            idx = torch.tensor([h0 + i + 1 - W for i in full], device=block.device)
            bg[full[0]:] = win[idx].median(dim=-1).values
        out, thr = _outputs(block, bg, self.opts, state.span)
        keep = hist[max(0, hist.shape[0] - (W - 1)):] if W > 1 else hist[:0]
        new = MedianStreamState(history=keep.clone(), span=state.span, frames=state.frames + block.shape[0],
                                shape=state.shape)
        return new, {**out, "info": thr}


STREAMERS = {"rsvddpd-stream": (DPDStream, O.StreamDPDOptions), "median-stream": (MedianStream, O.StreamMedianOptions)}


def run_stream(streamer, blocks: Iterable[torch.Tensor], *, callbacks=()) -> Iterator[dict]:
    """Yield the outputs of each block of ``blocks`` (an iterable of (B, H, W[, 3]) tensors).

    ``callbacks`` are called as ``cb({"frames": frames done, "block": k}, state)`` after every block.
    """
    state = None
    for k, block in enumerate(blocks):
        if not block.is_floating_point():
            block = block.to(torch.float32)
        if state is None:
            state = streamer.start(block)
        state, out = streamer.step(state, block)
        for cb in callbacks:
            cb({"frames": state.frames, "block": k}, state)
        yield out


def _split(frames: torch.Tensor, size: int):
    for i in range(0, frames.shape[0], size):
        yield frames[i:i + size]


def _collect(streamer, frames, block, callbacks):
    outs = list(run_stream(streamer, _split(frames, block), callbacks=callbacks))
    res = {k: torch.cat([o[k] for o in outs]) for k in ("background", "foreground", "mask")}
    info = {"blocks": len(outs), "sigma": [o["info"]["sigma"] for o in outs],
            "threshold": [o["info"]["threshold"] for o in outs]}
    return res, len(outs), info


def stream_rsvddpd(inputs: dict, opts: O.StreamDPDOptions, *, generator=None, callbacks=()):
    """Streaming rank-one rSVDdpd over a clip in memory, block by block (see :class:`DPDStream`)."""
    frames = check_frames(inputs["frames"])
    return _collect(DPDStream(opts), frames, opts.block, callbacks)


def stream_median(inputs: dict, opts: O.StreamMedianOptions, *, generator=None, callbacks=()):
    """Causal sliding-window temporal median over a clip in memory, block by block (see :class:`MedianStream`)."""
    frames = check_frames(inputs["frames"])
    return _collect(MedianStream(opts), frames, opts.block, callbacks)


METHODS = {
    "rsvddpd-stream": (stream_rsvddpd, O.StreamDPDOptions,
                       "streaming rank-one rSVDdpd: background tracked block by block, bounded memory"),
    "median-stream": (stream_median, O.StreamMedianOptions, "causal sliding-window temporal median, bounded memory"),
}
