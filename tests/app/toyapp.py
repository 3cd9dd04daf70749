"""Two tiny test-only apps that exercise the runner, batch and CLI without any domain.

``toy``  (in memory)
    a 1-D signal with spikes: ``clean`` = the CG solution of (I + lam·DᵀD) x = signal through the
    solver driver (stop reason and history reach the provenance), ``spikes`` = a ragged (P, 2)
    table of detected (position, amplitude); metrics: ``psnr`` (mean over samples),
    ``detected`` / ``missed`` / ``false`` (summed) and ``precision`` / ``recall`` / ``f_measure``
    (pooled from the summed counts).  A ``.npy`` file is an input through the ``open_input`` hook
    (1-D: one sample; 2-D: N samples).
``toy-stream``  (streamed along T)
    frames (T, H, W[, 3]) -> an exponential-moving-average ``background`` (same shape), a
    foreground ``mask`` (T, H, W) and ``background_final`` (H, W[, 3]); pixel ``tp``/``fp``/``fn``
    (summed) and ``precision``/``recall``/``f_measure`` pooled over every scored pixel of every
    frame and sample, ``mean_abs_fg`` averaged. A folder of PNG images is ONE input (hook +
    ``folder_patterns``). Options ``delay`` (seconds per block) and ``trace`` (a file that gets
    one line per processed block) serve the kill / resume tests.

Registered only for the tests (never listed by ``sensekit apps``): :func:`register_toys` calls
``sensekit.app.registry.register``, which also exports ``SENSEKIT_EXTRA_APPS`` so that CLI
subprocesses and batch worker processes find them.
"""
from __future__ import annotations

import dataclasses
import os
import time

import numpy as np
import torch

from sensekit.app.base import App, RunOutput, option
from sensekit.io.errors import InputError
from sensekit.io.hdf5 import DatasetSpec


#: the test-only apps, added to the per-app parameterisations beside ``app_names()``
TEST_APPS = ["toy", "toy-stream"]


def register_toys():
    from sensekit.app.registry import register
    here = os.path.abspath(__file__)
    register("toy", f"{here}:ToyApp")
    register("toy-stream", f"{here}:ToyStreamApp")


#: a detection within this many samples of a true spike is a hit
MATCH = 2


def _second_difference(x):
    d = torch.zeros_like(x)
    d[1:-1] = 2 * x[1:-1] - x[:-2] - x[2:]
    d[0], d[-1] = x[0] - x[1], x[-1] - x[-2]
    return d


# ------------------------------------------------------------------------------------------------- toy
@dataclasses.dataclass(frozen=True)
class ToyConfig:
    method: str = option("smooth", "the one method", choices=("smooth",))
    lam: float = option(4.0, "smoothing weight of the second differences", min=0.0)
    max_iter: int = option(60, "CG iterations at most", min=1)
    tol: float = option(1e-10, "CG relative residual to stop at", min=0.0)
    check_every: int = option(5, "check the stop criteria every k iterations", min=1)
    thresh: float = option(0.5, "residual above which a local maximum is a spike", min=0.0)


@dataclasses.dataclass(frozen=True)
class ToySim:
    length: int = option(64, "signal length L", min=8, max=100000)
    spikes: int = option(3, "number of spikes", min=0, max=100)
    noise: float = option(0.05, "noise standard deviation", min=0.0)


class ToyApp(App):
    name = "toy"
    summary = "test-only: smooth a 1-D signal and list its spikes"
    Config = ToyConfig
    SimConfig = ToySim
    methods = {"smooth": "CG smoothing, spikes from the residual"}
    batch_patterns = ("*.h5", "*.hdf5", "*.npy")
    quick_sim = {"length": 48}
    quick_options = {"max_iter": 20}
    inputs = (
        DatasetSpec("signal", ("L",), ("float", "int"), True, "the noisy signal"),
        DatasetSpec("clean_ref", ("L",), ("float",), False, "the signal without noise and spikes"),
        DatasetSpec("spikes_ref", ("P,2",), ("float",), False, "true spikes: position, amplitude", ragged=True),
    )
    outputs = (
        DatasetSpec("clean", ("L",), ("float",), True, "smoothed signal (float32)"),
        DatasetSpec("spikes", ("P,2",), ("float",), True, "detected spikes: position, amplitude", ragged=True,
                    counts="spike_counts"),
    )
    metric_reduction = {"detected": "sum", "missed": "sum", "false": "sum",
                        "precision": "pooled", "recall": "pooled", "f_measure": "pooled"}

    def simulate(self, sim, generator):
        L = sim.length
        t = torch.arange(L, dtype=torch.float64)
        clean = torch.sin(2 * np.pi * t / L) + 0.5 * torch.cos(6 * np.pi * t / L)
        pos = torch.randperm(L - 4, generator=generator)[:sim.spikes] + 2
        amp = 1.0 + torch.rand(sim.spikes, generator=generator, dtype=torch.float64)
        y = clean.clone()
        y[pos] += amp
        y += sim.noise * torch.randn(L, generator=generator, dtype=torch.float64)
        order = torch.argsort(pos)
        ref = torch.stack([pos[order].double(), amp[order]], dim=1).numpy()
        return {"signal": y.numpy(), "clean_ref": clean.numpy(), "spikes_ref": ref}, {}

    def prepare(self, arrays, attrs, layouts):
        y = np.asarray(arrays["signal"], dtype=np.float64)
        if y.shape[0] < 8:   # an app error without the file name: the runner adds it
            raise ValueError(f"dataset 'signal' has {y.shape[0]} entries, expected at least 8")
        out = {"signal": torch.from_numpy(y)}
        if "clean_ref" in arrays:
            r = np.asarray(arrays["clean_ref"], dtype=np.float64)
            if r.shape != y.shape:
                raise InputError(f"dataset 'clean_ref' has shape {r.shape}, expected {y.shape}")
            out["clean_ref"] = torch.from_numpy(r)
        if "spikes_ref" in arrays:
            s = np.asarray(arrays["spikes_ref"], dtype=np.float64)
            if s.size and (s[:, 0].min() < 0 or s[:, 0].max() >= y.shape[0]):
                raise InputError("dataset 'spikes_ref' has positions outside the signal")
            out["spikes_ref"] = torch.from_numpy(s)
        return out

    def open_input(self, path):
        if not str(path).endswith(".npy"):
            return None
        from sensekit.io.source import ArraySource
        if not os.path.isfile(path):
            raise InputError(f"{path}: file not found")
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception as e:
            raise InputError(f"{path}: cannot read as .npy ({e})") from None
        if arr.ndim not in (1, 2):
            raise InputError(f"{path}: array of shape {arr.shape}, expected (L,) or (N, L)")
        rows = [arr] if arr.ndim == 1 else list(arr)
        return ArraySource([{"signal": r} for r in rows], {"signal": "L"}, has_n=arr.ndim == 2, path=str(path),
                           label=os.path.abspath(path))

    def run(self, inputs, config, *, generator, callbacks=()):
        from sensekit.solvers.base import MaxIter, Residual, solve
        from sensekit.solvers.cg import CG
        from sensekit.solvers.problems import LinearSystem
        y = inputs["signal"]
        res = solve(CG(), LinearSystem(lambda v: v + config.lam * _second_difference(v), y),
                    stop=MaxIter(config.max_iter) | Residual(config.tol), callbacks=callbacks,
                    check_every=config.check_every)
        x = res.x
        r = y - x
        peak = (r > config.thresh) & (r >= torch.roll(r, 1)) & (r >= torch.roll(r, -1))
        pos = torch.nonzero(peak).flatten()
        spikes = torch.stack([pos.double(), r[pos]], dim=1) if pos.numel() else torch.zeros((0, 2), dtype=y.dtype)
        return RunOutput(outputs={"clean": x.float(), "spikes": spikes}, iterations=res.iterations,
                         info={"stop_reason": res.stop_reason, "history": res.history})

    def score(self, outputs, inputs):
        m = {}
        if "clean_ref" in inputs:
            ref = inputs["clean_ref"].double()
            err = float(torch.mean((outputs["clean"].double() - ref) ** 2))
            peak = float(ref.abs().max())
            m["psnr"] = 10 * np.log10(peak ** 2 / max(err, 1e-30))
        if "spikes_ref" in inputs:
            true = inputs["spikes_ref"][:, 0].tolist()
            found = outputs["spikes"][:, 0].tolist()
            hit = 0
            left = list(true)
            for p in found:
                near = [q for q in left if abs(q - p) <= MATCH]
                if near:
                    left.remove(near[0])
                    hit += 1
            m.update(detected=hit, missed=len(true) - hit, false=len(found) - hit)
            m.update(self.pool_metrics(m))
        return m

    def pool_metrics(self, totals):
        if "detected" not in totals:
            return {}
        tp, fn, fp = totals["detected"], totals["missed"], totals["false"]
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / (tp + fn) if tp + fn else 1.0
        return {"precision": p, "recall": r, "f_measure": 2 * p * r / (p + r) if p + r else 0.0}

    def figure(self, inputs, outputs, path, config, *, fmt="png"):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(5, 2.5))
        ax.plot(inputs["signal"].numpy(), label="signal")
        ax.plot(np.asarray(outputs["clean"]), label="clean")
        ax.set_xlabel("sample")
        ax.legend()
        fig.savefig(path, format=fmt)
        plt.close(fig)


# ------------------------------------------------------------------------------------------ toy-stream
@dataclasses.dataclass(frozen=True)
class ToyStreamConfig:
    method: str = option("ema", "the one method", choices=("ema",))
    alpha: float = option(0.1, "moving-average rate of the background", min=0.0, max=1.0)
    thresh: float = option(0.2, "|frame - background| above this is foreground", min=0.0)
    block: int = option(16, "frames per block", min=1)
    dither: float = option(0.0, "std of random noise added to the background each frame (exercises the "
                                "generator across blocks)", min=0.0)
    delay: float = option(0.0, "seconds of sleep per block (for kill tests)", min=0.0)
    trace: str = option("", "file that gets one line 'start stop' per processed block")


@dataclasses.dataclass(frozen=True)
class ToyStreamSim:
    frames: int = option(40, "frames T", min=1, max=1000000)
    height: int = option(12, "frame height H", min=2)
    width: int = option(10, "frame width W", min=2)
    colour: bool = option(False, "colour frames (T, H, W, 3)")


def toy_video(frames, height, width, *, colour=False, start=0, seed=0):
    """Frames ``start:start+frames`` of the toy video (uint8) and its CDnet-coded masks (0 / 255)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    bg = (40 + 100 * xx / max(1, width - 1) + 30 * yy / max(1, height - 1))
    t = np.arange(start, start + frames)
    cy = (t * 1) % height
    cx = (t * 2) % width
    obj = (np.abs(yy[None] - cy[:, None, None]) <= 1) & (np.abs(xx[None] - cx[:, None, None]) <= 1)
    f = np.clip(bg[None] + 110 * obj + rng.normal(0, 2, (frames, height, width)), 0, 255).astype(np.uint8)
    if colour:
        f = np.stack([f, f // 2 + 20, 255 - f], axis=-1).astype(np.uint8)
    return f, (obj * 255).astype(np.uint8)


class ToyStreamApp(App):
    name = "toy-stream"
    summary = "test-only: moving-average background of a video, streamed by blocks of frames"
    Config = ToyStreamConfig
    SimConfig = ToyStreamSim
    methods = {"ema": "exponential moving average"}
    quick_sim = {"frames": 20}
    stream_axis = "T"
    folder_patterns = ("*.png",)
    inputs = (
        DatasetSpec("frames", ("T,H,W", "T,H,W,C"), ("float", "int"), True, "video frames (uint8 or float)"),
        DatasetSpec("mask_ref", ("T,H,W",), ("int", "bool"), False, "CDnet-coded masks: 0 background, 255 fg"),
    )
    outputs = (
        DatasetSpec("background", ("T,H,W", "T,H,W,C"), ("float",), True, "background per frame (float32)"),
        DatasetSpec("mask", ("T,H,W",), ("bool",), True, "foreground mask"),
        DatasetSpec("background_final", ("H,W", "H,W,C"), ("float",), True, "background after the last frame"),
    )
    metric_reduction = {"tp": "sum", "fp": "sum", "fn": "sum", "scored_pixels": "sum",
                        "precision": "pooled", "recall": "pooled", "f_measure": "pooled"}

    def simulate(self, sim, generator):
        seed = int(torch.randint(0, 2 ** 31 - 1, (1,), generator=generator))
        f, m = toy_video(sim.frames, sim.height, sim.width, colour=sim.colour, seed=seed)
        return {"frames": f, "mask_ref": m}, {}

    def prepare(self, arrays, attrs, layouts):
        f = np.asarray(arrays["frames"])
        x = torch.from_numpy(f.astype(np.float32) / (255.0 if f.dtype == np.uint8 else 1.0))
        out = {"frames": x}
        if "mask_ref" in arrays:
            m = np.asarray(arrays["mask_ref"])
            if m.shape != f.shape[:3]:
                raise InputError(f"dataset 'mask_ref' has shape {m.shape}, expected {f.shape[:3]}")
            out["mask_ref"] = torch.from_numpy(m.astype(np.int64))
        return out

    def open_input(self, path):
        if os.path.isdir(path):
            from sensekit.io.images import ImageFolder
            return ImageFolder(path, dataset="frames", patterns=self.folder_patterns)
        return None

    def start_stream(self, info, config, *, generator):
        return {"bg": None, "frames": 0}

    def run_block(self, block, state, config, *, start, generator, callbacks=()):
        if config.delay:
            time.sleep(config.delay)
        if config.trace:
            with open(config.trace, "a") as fh:
                fh.write(f"{start} {start + block['frames'].shape[0]}\n")
        x = block["frames"]
        bg = state["bg"]
        bgs = []
        for t in range(x.shape[0]):
            bg = x[t].clone() if bg is None else (1 - config.alpha) * bg + config.alpha * x[t]
            if config.dither:
                bg = bg + config.dither * torch.randn(bg.shape, generator=generator).to(bg)
            bgs.append(bg)
        background = torch.stack(bgs)
        fg = (x - background).abs()
        mask = (fg.amax(dim=-1) if fg.ndim == 4 else fg) > config.thresh
        return {"background": background, "mask": mask}, {"bg": bg, "frames": state["frames"] + x.shape[0]}

    def finish_stream(self, state, config):
        bg = state["bg"]
        return RunOutput(outputs={"background_final": bg}, iterations=int(state["frames"]),
                         info={"stop_reason": "end of stream",
                               "history": [{"iter": int(state["frames"]), "mean_background": float(bg.mean())}]})

    def score(self, outputs, inputs):
        m = {"mean_abs_fg": float((inputs["frames"] - outputs["background"]).abs().mean())}
        if "mask_ref" in inputs:
            ref = inputs["mask_ref"]
            valid = (ref == 0) | (ref == 255)
            truth = ref == 255
            est = outputs["mask"].bool()
            m.update(tp=int((est & truth & valid).sum()), fp=int((est & ~truth & valid).sum()),
                     fn=int((~est & truth & valid).sum()), scored_pixels=int(valid.sum()))
            m.update(self.pool_metrics(m))
        return m

    def pool_metrics(self, totals):
        if "tp" not in totals:
            return {}
        tp, fp, fn = totals["tp"], totals["fp"], totals["fn"]
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        return {"precision": p, "recall": r, "f_measure": 2 * p * r / (p + r) if p + r else 0.0}

    def figure(self, inputs, outputs, path, config, *, fmt="png"):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        t = inputs["frames"].shape[0] // 2           # one frame of each: read by slices, never whole
        fig, axs = plt.subplots(1, 3, figsize=(7, 2.5))
        for ax, (title, img) in zip(axs, (("frame", inputs["frames"][t]), ("background", outputs["background"][t]),
                                          ("mask", outputs["mask"][t]))):
            ax.imshow(np.asarray(img).astype(np.float32), cmap="gray")
            ax.set_title(f"{title} {t}")
            ax.axis("off")
        fig.savefig(path, format=fmt)
        plt.close(fig)
