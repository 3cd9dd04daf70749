"""A small, seeded training loop for learned reconstruction models (Adam, checkpoints, time budget)."""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Callable, Sequence

import torch

from .io import save_model


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What :func:`fit` returns."""

    model: torch.nn.Module
    history: list          # [{"iter", "loss", "seconds"}] at every check (loss = mean since the last check)
    iterations: int
    seconds: float
    stop_reason: str


def step_loss(estimates: Sequence[torch.Tensor], target: torch.Tensor, *, kind: str = "mse") -> torch.Tensor:
    """Loss averaged over the steps of a recurrent estimator: (1/T) Σ_t ℓ(x_t, target).

    ``kind`` is ``"mse"`` (mean squared modulus of x_t − target) or ``"l1"`` (mean modulus); complex values allowed.
    """
    if kind not in ("mse", "l1"):
        raise ValueError(f"unknown loss {kind!r}; expected mse or l1")
    terms = [((x - target).abs() ** 2).mean() if kind == "mse" else (x - target).abs().mean() for x in estimates]
    return torch.stack(terms).mean()


def fit(model: torch.nn.Module, sample: Callable, loss: Callable, *, max_iter: int, lr: float = 1e-3,
        lr_schedule: str = "constant", lr_min: float = 0.0, generator: torch.Generator | None = None,
        clip: float | None = None, check_every: int = 10,
        callbacks: Sequence[Callable] = (), checkpoint: str | None = None, checkpoint_every: int = 0,
        checkpoint_meta: dict | None = None, resume: dict | None = None,
        max_seconds: float | None = None) -> TrainResult:
    """Train ``model`` with Adam on problems drawn by ``sample``.

    Parameters
    ----------
    model : torch.nn.Module (trained in place; also returned).
    sample : callable ``sample(generator) -> batch`` drawing one training problem.
    loss : callable ``loss(model, batch) -> Tensor`` (scalar).
    max_iter : int — number of optimiser steps.
    lr : float — Adam learning rate.
    lr_schedule : {"constant", "cosine"} — keep ``lr``, or anneal it to ``lr_min`` over ``max_iter`` steps
        along a half cosine.
    generator : torch.Generator, optional — drives ``sample`` (with a seeded model init, the run is
        reproducible on the same device and torch version).
    clip : float, optional — clip the gradient norm to this value.
    check_every : int — record the mean loss (and call ``callbacks(info, model)``) every k steps; the
        loss is read back from the device only then.
    checkpoint : str, optional — path stem of a checkpoint (``.pt`` + ``.json``) written every
        ``checkpoint_every`` steps, holding the optimiser state and iteration so that training resumes.
    checkpoint_meta : dict, optional — extra JSON for the checkpoint.
    resume : dict, optional — the ``extra`` state of a checkpoint (see :func:`sensekit.learned.load_model`).
    max_seconds : float, optional — stop (at a check) once this wall time has passed.

    Returns
    -------
    TrainResult
    """
    if lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"unknown lr_schedule {lr_schedule!r}; expected constant or cosine")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max_iter, eta_min=lr_min) \
        if lr_schedule == "cosine" else None
    start, history = 0, []
    if resume:
        opt.load_state_dict(resume["optimizer"])
        if sched is not None and "scheduler" in resume:
            sched.load_state_dict(resume["scheduler"])
        start, history = int(resume["iter"]), list(resume.get("history", []))
        if generator is not None and "generator" in resume:
            generator.set_state(resume["generator"])
    model.train()
    t0 = time.perf_counter()
    acc, n_acc, it, reason = None, 0, start, "max_iter"
    for it in range(start + 1, max_iter + 1):
        batch = sample(generator)
        opt.zero_grad(set_to_none=True)
        value = loss(model, batch)
        value.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        if sched is not None:
            sched.step()
        acc = value.detach() if acc is None else acc + value.detach()
        n_acc += 1
        if it % check_every == 0 or it == max_iter:
            info = {"iter": it, "loss": float(acc) / n_acc, "seconds": time.perf_counter() - t0}
            history.append(info)
            acc, n_acc = None, 0
            if checkpoint and checkpoint_every and it % checkpoint_every == 0:
                _save_checkpoint(model, opt, sched, it, history, generator, checkpoint, checkpoint_meta)
            for cb in callbacks:
                cb(info, model)
            if max_seconds is not None and info["seconds"] >= max_seconds:
                reason = "max_seconds"
                break
    model.eval()
    return TrainResult(model=model, history=history, iterations=it, seconds=time.perf_counter() - t0,
                       stop_reason=reason)


def _save_checkpoint(model, opt, sched, it, history, generator, path, meta):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    extra = {"optimizer": opt.state_dict(), "iter": it, "history": history}
    if sched is not None:
        extra["scheduler"] = sched.state_dict()
    if generator is not None:
        extra["generator"] = generator.get_state()
    save_model(model, path, meta={"checkpoint_iter": it, **(meta or {})}, extra_state=extra)
