"""The rpca-video app: video background / foreground separation (``sensekit run rpca-video``).

Methods
-------
Whole-clip methods (``rsvddpd``, ``pcp``, ``godec``, ``median``, ``svd``) model the background of the
whole clip at once, so the clip is in memory (one block of the runner's stream: the block is the
whole clip). The streaming methods (``rsvddpd-stream``, ``median-stream``) process ``block`` frames at a
time and carry only a few images from block to block: with an input file, frames are read, processed and
written block by block and peak memory does not grow with the video's length. A whole-clip method
refuses (exit 3) an input whose working set would exceed ``memory_limit_gb`` and names the streaming
methods, instead of running out of memory half way.

Masks: ``|residual − median| > threshold × σ̂`` with σ̂ the 1.4826·MAD of the residual per channel
(computed on the clip, or on each block when streaming; see :mod:`.masks`), then a 3×3 opening. The
``threshold`` output records the absolute threshold used for each frame and channel.
"""
from __future__ import annotations

import dataclasses
import math
import os

import numpy as np
import torch

from sensekit.app.base import App, RunOutput, option
from sensekit.app.options import MethodOptions
from sensekit.io.errors import ConfigError, InputError
from sensekit.io.hdf5 import DatasetSpec
from sensekit.metrics import f_measure, pr_counts

from . import methods as Me
from . import options as O
from . import stream as St
from .inputs import FRAME_PATTERNS
from .readers import VIDEO_EXT
from .training import TrainConfig



@dataclasses.dataclass(frozen=True)
class RPCANetOptions:
    rpcanet_model: str = option("", "rpcanet: folder of a model trained by `sensekit train rpca-video` (empty: the "
                                    "model shipped with sensekit, see rpcanet_model.json)")


#: method -> (options class, one-line description)
BATCH = {k: (v[1], v[2]) for k, v in Me.METHODS.items()}
BATCH["rpcanet"] = (RPCANetOptions, "deep unfolded RPCA network (after RPCANet, Wu et al.; shipped model trained "
                                    "on synthetic scenes, or your own from `sensekit train`); mask = target map > 0, "
                                    "background = the temporal-median prior")
STREAMED = {k: (v[1], v[2]) for k, v in St.METHODS.items()}
#: every method of ``--method``
METHOD_OPTIONS = {**BATCH, **STREAMED}
CDNET = (0, 50, 85, 170, 255)


@dataclasses.dataclass(frozen=True)
class Shared(O.MaskOptions):
    """Options every method reads: the mask options (rpcanet's masks are its own) and the memory guard."""

    memory_limit_gb: float = option(4.0, "whole-clip methods refuse a clip whose working set (about 6 float32 "
                                         "copies) exceeds this many GiB; use a *-stream method", min=0.0)


#: The options of every method (one frozen class each, in options.py); ``OPTIONS.of(cfg)`` is the chosen one's.
OPTIONS = MethodOptions(
    option("median", "background model (see `methods`); the *-stream methods read and write a video block by "
                     "block with bounded memory"),
    Shared, METHOD_OPTIONS, unused="ignore")

#: The flat options of ``--set`` / ``--config`` (built from the per-method classes: an option of several methods
#: defaults to None = the chosen method's default where their defaults differ).
Config = OPTIONS.flat_config("Config", __name__, doc="Options of rpca-video (flat: what --set fills; see options.py "
                                                     "for the per-method classes)")


@dataclasses.dataclass(frozen=True)
class SimConfig:
    frames: int = option(100, "frames T", min=2, max=1_000_000)
    height: int = option(60, "frame height H", min=8, max=4096)
    width: int = option(80, "frame width W", min=8, max=4096)
    objects: int = option(3, "moving foreground objects", min=0, max=50)
    noise: float = option(0.02, "additive Gaussian noise std (intensities in [0, 1])", min=0.0)
    drift: float = option(0.1, "relative amplitude of a slow global illumination drift", min=0.0, max=1.0)
    texture: float = option(0.0, "amplitude of a waving-leaves patch (dynamic background; 0: none)", min=0.0)
    jitter: float = option(0.0, "camera jitter in pixels (0: fixed camera)", min=0.0)
    colour: bool = option(False, "RGB frames (T, H, W, 3)")
    tamper: float = option(0.0, "fraction of frames replaced by noise or black frames (not scored: their "
                                "ground truth is 85)", min=0.0, max=0.5)


@dataclasses.dataclass(frozen=True)
class ConvertConfig:
    gt: str = option("", "folder of ground-truth images (CDnet coding, same count and size as the frames), "
                         "for a folder or video source")
    gt_threshold: int = option(-1, "-1: ground truth is CDnet-coded (0, 50, 85, 170, 255); else binarise it: "
                                   "255 where >= gt_threshold, 0 elsewhere", min=-1, max=255)
    pattern: str = option("", "glob of the frame files in a folder source (default: every image file)")
    variable: str = option("", ".mat source: the numeric (T, H, W[, 3]) variable to take (default: the "
                               "LRSLibrary struct 'video' or the GoDec matrix 'M')")
    colour: str = option("auto", "frames: auto (grey when the channels are equal), grey or rgb",
                         choices=("auto", "grey", "rgb"))
    matlab_order: str = option("auto", ".mat source: image axes of the frames: HW (the default, MATLAB's rows "
                                       "before columns, the frames as imagesc shows them) or WH (columns first, as "
                                       "row-major writers leave arrays); auto = HW",
                               choices=("auto", "HW", "WH"))


def method_options(cfg: Config):
    """The options object of ``cfg.method`` (its own defaults where ``cfg`` leaves an option None)."""
    return OPTIONS.of(cfg)


def _threshold_rows(info_thr, n: int, channels: int) -> torch.Tensor:
    t = torch.as_tensor(info_thr, dtype=torch.float32).reshape(-1)
    if t.numel() != channels:
        t = t[:1].expand(channels)
    return t[None].expand(n, channels).contiguous()


class RPCAVideo(App):
    """Video background / foreground separation: low-rank (or median) background, sparse foreground, masks."""

    name = "rpca-video"
    summary = "video background / foreground separation"
    Config = Config
    SimConfig = SimConfig
    ConvertConfig = ConvertConfig
    methods = {k: v[1] for k, v in METHOD_OPTIONS.items()}
    quick_sim = {"frames": 24, "height": 24, "width": 32}
    quick_options = {}
    stream_axis = "T"
    stream_block = 50
    batch_patterns = ("*.h5", "*.hdf5", "*.mat") + tuple("*" + e for e in VIDEO_EXT)
    folder_patterns = FRAME_PATTERNS
    inputs = (
        DatasetSpec("frames", ("T,H,W", "T,H,W,3"), ("int", "float"), True,
                    "video frames: uint8 (0..255) or float (e.g. 0..1), grey or RGB"),
        DatasetSpec("gt_masks", ("T,H,W",), ("int", "bool"), False,
                    "ground truth in the CDnet coding: 0 background, 50 shadow, 85 outside the ROI, 170 unknown, "
                    "255 foreground (only 0 and 255 are scored); bool: True = 255"),
    )
    outputs = (
        DatasetSpec("background", ("T,H,W", "T,H,W,C"), ("float",), True, "background per frame (float32)"),
        DatasetSpec("foreground", ("T,H,W", "T,H,W,C"), ("float",), True, "frames − background (float32)"),
        DatasetSpec("mask", ("T,H,W",), ("bool",), True, "foreground mask (one for all channels)"),
        DatasetSpec("threshold", ("T,C",), ("float",), True,
                    "absolute residual threshold used for each frame and channel (threshold × σ̂, frame units; "
                    "rpcanet: 0, the threshold of its target-map logits)"),
    )
    metric_reduction = {"tp": "sum", "fp": "sum", "fn": "sum", "tn": "sum",
                        "precision": "pooled", "recall": "pooled", "f_measure": "pooled"}

    # ------------------------------------------------------------------ data
    def simulate(self, sim: SimConfig, generator):
        from sensekit.sim import video_sequence
        X, gt = video_sequence(sim.frames, (sim.height, sim.width), generator=generator, objects=sim.objects,
                               noise=sim.noise, drift=sim.drift, texture=sim.texture, jitter=sim.jitter,
                               colour=sim.colour)
        frames = torch.round(X.clamp(0, 1) * 255).to(torch.uint8)
        if sim.tamper > 0:
            T = sim.frames
            idx = torch.randperm(T, generator=generator)[:max(1, int(round(sim.tamper * T)))]
            for k, t in enumerate(idx.tolist()):
                frames[t] = torch.randint(0, 256, frames.shape[1:], generator=generator, dtype=torch.uint8) \
                    if k % 2 == 0 else 0
                gt[t] = 85
        return {"frames": frames.numpy(), "gt_masks": gt.numpy()}, {}

    def prepare(self, arrays, attrs, layouts):
        f = np.asarray(arrays["frames"])
        if f.ndim not in (3, 4) or (f.ndim == 4 and f.shape[-1] != 3):
            raise InputError(f"dataset 'frames' has shape {f.shape}, expected (T, H, W) or (T, H, W, 3)")
        if f.shape[0] < 1 or f.shape[1] < 1 or f.shape[2] < 1:
            raise InputError(f"dataset 'frames' has shape {f.shape}: no pixels")
        if f.dtype == np.uint8:
            x = torch.from_numpy(np.ascontiguousarray(f)).to(torch.float32) / 255
        elif f.dtype == np.uint16:
            x = torch.from_numpy(f.astype(np.float32)) / 65535
        elif f.dtype.kind in "iu":
            x = torch.from_numpy(f.astype(np.float32))
        elif f.dtype.kind == "f":
            x = torch.from_numpy(np.ascontiguousarray(f, dtype=np.float32))
        else:
            raise InputError(f"dataset 'frames' has dtype {f.dtype}, expected uint8 or float")
        out = {"frames": x}
        if "gt_masks" in arrays:
            g = np.asarray(arrays["gt_masks"])
            if g.shape != f.shape[:3]:
                raise InputError(f"dataset 'gt_masks' has shape {g.shape}, expected (T, H, W) = {f.shape[:3]} "
                                 f"like 'frames'")
            if g.dtype == np.bool_:
                g = np.where(g, 255, 0).astype(np.uint8)
            bad = np.setdiff1d(np.unique(g), CDNET)
            if bad.size:
                raise InputError(f"dataset 'gt_masks' holds values {bad[:5].tolist()} that are not CDnet codes "
                                 f"(0, 50, 85, 170, 255); store a binary mask as 0 / 255")
            out["gt_masks"] = torch.from_numpy(g.astype(np.uint8))
        return out

    def open_input(self, path):
        """A folder of image files, a video file (the ``video`` extra) or a .mat clip; None for HDF5."""
        from .inputs import open_input
        return open_input(path)

    def convert_format(self, src: str) -> str:
        """The source kind for ``sensekit convert``: folder, video, or :func:`sensekit.io.detect_format`'s name."""
        from sensekit.io.formats import detect_format
        if os.path.isdir(src):
            return "folder"
        if os.path.splitext(src)[1].lower() in VIDEO_EXT:
            if not os.path.isfile(src):
                raise InputError(f"{src}: file not found")
            return "video"
        return detect_format(src)

    def mat_kind(self, listing):
        """MATLAB variables that mark this app's data (``convert`` refuses other apps' files by them)."""
        from .convert import mat_kind
        return mat_kind(listing)

    def convert(self, src, fmt, config, generator):
        from .convert import convert
        return convert(src, fmt, config)

    # ------------------------------------------------------------------ work (streamed along T)
    def streams(self, config) -> bool:
        return config.method in STREAMED

    def stream_block_size(self, config) -> int:
        """``block`` for the streaming methods; the whole clip (one block) for the whole-clip methods."""
        return int(method_options(config).block) if self.streams(config) else 2 ** 31 - 1

    def start_stream(self, info, config, *, generator):
        method_options(config)                 # ConfigError (exit 3) for an option out of the method's range
        shape = info.shapes.get("frames", ())
        if info.length < 2:
            raise InputError(f"dataset 'frames' has {info.length} frame, need at least 2")
        if not self.streams(config):
            gib = expected_memory_gib(shape)
            if config.memory_limit_gb and gib > config.memory_limit_gb:
                raise ConfigError(f"method {config.method} holds the whole clip {tuple(shape)} in memory (about "
                                  f"{gib:.1f} GiB > memory_limit_gb={config.memory_limit_gb:g}); use --method "
                                  f"{'rsvddpd-stream' if config.method.startswith('rsvddpd') else 'median-stream'} "
                                  f"(bounded memory) or raise --set memory_limit_gb")
        return {"started": False, "iterations": 0, "blocks": 0, "stop_reason": ""}

    def run_block(self, block, state, config, *, start, generator, callbacks=()):
        opts = method_options(config)
        x = block["frames"]
        C = x.shape[-1] if x.ndim == 4 else 1
        new = dict(state)
        if config.method == "rpcanet":
            out, thr = self._rpcanet(x, opts), [0.0] * C      # the mask is the net's target logit > 0
            new.update(iterations=state["iterations"] + 1, blocks=state["blocks"] + 1, started=True)
        elif not self.streams(config):
            fn = Me.METHODS[config.method][0]
            out, iters, info = fn({"frames": x}, opts, generator=generator, callbacks=callbacks)
            new.update(iterations=state["iterations"] + int(iters), blocks=state["blocks"] + 1,
                       stop_reason=str(info.get("stop_reason", "") or ""), started=True)
            thr = info["threshold"]
        else:
            streamer = St.STREAMERS[config.method][0](opts)
            st = _unpack(config.method, state["stream"]) if state["started"] else streamer.start(x)
            st, res = streamer.step(st, x)
            out, thr = res, res["info"]["threshold"]
            new.update(stream=_pack(st), started=True, iterations=state["iterations"] + 1,
                       blocks=state["blocks"] + 1, stop_reason="end of stream")
        outputs = {"background": out["background"].to(torch.float32), "foreground": out["foreground"].to(torch.float32),
                   "mask": out["mask"].to(torch.bool),
                   "threshold": _threshold_rows(thr, x.shape[0], C).to(x.device)}
        return outputs, new

    def _rpcanet(self, x, opts):
        from .rpcanet import apply
        from .training import load_rpcanet
        key = (opts.rpcanet_model, str(x.device))
        if getattr(self, "_net_key", None) != key:
            self._net, _ = load_rpcanet(opts.rpcanet_model, x.device)
            self._net_key = key
        x = Me.check_frames(x)
        prior = x.median(dim=0).values
        out = apply(self._net, x, prior)
        # the loss supervises only the target map and the restored frame, so the net's B stage is not a
        # background image: the background output is the temporal-median prior the net was given
        bg = prior[None].expand_as(x).contiguous()
        return {"background": bg, "foreground": x - bg, "mask": out["mask"]}

    TrainConfig = TrainConfig

    def train(self, config, output, *, seed=0, device="cpu", callbacks=(), resume=False, command=""):
        """Train the ``rpcanet`` method's model into the folder ``output`` (see training.py)."""
        from .training import train
        return train(config, output, seed=seed, device=device, callbacks=callbacks, resume=resume, command=command)

    def finish_stream(self, state, config):
        info = {"stop_reason": state.get("stop_reason") or ("end of stream" if self.streams(config) else "")}
        return RunOutput(outputs={}, iterations=int(state["iterations"]), info=info)

    def score(self, outputs, inputs):
        if "gt_masks" not in inputs:
            return {}
        c = pr_counts(outputs["mask"].cpu(), inputs["gt_masks"].cpu())
        return {**c, **f_measure(c)}

    def pool_metrics(self, totals):
        if "tp" not in totals:
            return {}
        return f_measure({k: int(totals[k]) for k in ("tp", "fp", "fn")})

    def figure(self, inputs, outputs, path, config, *, fmt="png"):
        from .figures import montage
        montage(inputs, outputs, path, config, fmt=fmt)


# ---------------------------------------------------------------------- stream state <-> checkpointable dict
def _pack(st) -> dict:
    """A stream state as a dict of tensors / numbers / lists (``torch.load(weights_only=True)`` reads it)."""
    if isinstance(st, St.DPDStreamState):
        d = st.dpd
        return {"c": d.c, "num": d.num, "den": d.den, "scale": d.scale, "columns": int(d.columns),
                "sigma2": torch.as_tensor(d.sigma2),
                "span": float(st.span), "frames": int(st.frames), "shape": list(st.shape)}
    if isinstance(st, St.MedianStreamState):
        return {"history": st.history, "span": float(st.span), "frames": int(st.frames), "shape": list(st.shape)}
    raise TypeError(type(st).__name__)


def _unpack(method: str, d: dict):
    from sensekit.solvers import OnlineDPDState
    if method == "rsvddpd-stream":
        return St.DPDStreamState(dpd=OnlineDPDState(c=d["c"], num=d["num"], den=d["den"], scale=d["scale"],
                                                    columns=int(d["columns"]),
                                                    sigma2=d.get("sigma2", torch.ones_like(d["scale"]))),
                                 span=float(d["span"]), frames=int(d["frames"]), shape=tuple(d["shape"]))
    if method == "median-stream":
        return St.MedianStreamState(history=d["history"], span=float(d["span"]), frames=int(d["frames"]),
                                    shape=tuple(d["shape"]))
    raise KeyError(method)


def expected_memory_gib(shape) -> float:
    """The working set a whole-clip method needs for frames of ``shape`` (T, H, W[, 3]), in GiB."""
    return 6 * 4 * float(math.prod(int(d) for d in shape)) / 2 ** 30
