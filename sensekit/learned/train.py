"""The one training loop of the learned methods (Adam; seeded, resumable, time budget, progress, validation).

:func:`fit` trains any ``torch.nn.Module`` on problems drawn by a sampler; :func:`train_and_save` is how
every ``sensekit train APP`` uses it (checkpoint and ``--resume`` in the output folder, the app's
validation metric, the model and its card written through the model registry).
"""
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
    validation: float | None = None     # the app's validation metric of the final model (when given)
    val_history: list = dataclasses.field(default_factory=list)   # [{"iter", name}] at each validation


@dataclasses.dataclass(frozen=True)
class Validation:
    """An app's validation metric for :func:`fit`: ``fn(model) -> float`` on a fixed validation set.

    Parameters
    ----------
    fn : callable
        ``fn(model) -> float``; called under ``torch.no_grad()`` with the model in eval mode (put back in
        train mode afterwards); it must not draw from the training generator.
    name : str
        Key of the metric in the history, the progress line and the model card (e.g. ``"val_psnr"``).
    every : int
        Also score every k steps (0: only the final model).
    """

    fn: Callable
    name: str = "val_metric"
    every: int = 0

    def __call__(self, model: torch.nn.Module) -> float:
        was = model.training
        model.eval()
        try:
            with torch.no_grad():
                return float(self.fn(model))
        finally:
            model.train(was)


def step_loss(estimates: Sequence[torch.Tensor], target: torch.Tensor, *, kind: str = "mse") -> torch.Tensor:
    """Loss averaged over the steps of a recurrent estimator: (1/T) Σ_t ℓ(x_t, target).

    ``kind`` is ``"mse"`` (mean squared modulus of x_t − target) or ``"l1"`` (mean modulus); complex values allowed.

    Returns
    -------
    torch.Tensor
        The 0-d mean loss.
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
        max_seconds: float | None = None, param_groups: Callable | None = None,
        penalty: Callable | None = None, validate: Validation | None = None) -> TrainResult:
    """Train ``model`` with Adam on problems drawn by ``sample``: the one training loop of every app.

    Seeded (``generator`` drives ``sample``; with a seeded model init the run is reproducible on the
    same device and torch version), resumable (a checkpoint holds the weights, the optimiser, schedule,
    generator and torch RNG states, the history; a resumed run ends with the same weights as an
    uninterrupted one), with a time budget and progress through ``callbacks`` (e.g. the CLI's
    :class:`sensekit.app.progress.ProgressBar`, which shows ``loss`` and the validation metric).

    Parameters
    ----------
    model : torch.nn.Module
        Trained in place (also returned).
    sample : callable
        ``sample(generator) -> batch`` drawing one training problem.
    loss : callable
        ``loss(model, batch) -> Tensor`` (scalar); the recorded loss.
    max_iter : int
        Number of optimiser steps (in all, counting those before a resume).
    lr : float
        Adam learning rate.
    lr_schedule : {"constant", "cosine"}
        Keep ``lr``, or anneal it to ``lr_min`` over ``max_iter`` steps along a half cosine.
    lr_min : float
        Final learning rate of the cosine schedule.
    generator : torch.Generator, optional
        Drives ``sample``.
    clip : float, optional
        Clip the gradient norm to this value.
    check_every : int
        Record the mean loss (and call ``callbacks(info, model)``) every k steps; the loss is read back
        from the device only then.
    callbacks : sequence of callable
        ``cb(info, model)`` at every check; ``info`` has ``iter``, ``loss``, ``seconds`` and, at a
        validation, the metric.
    checkpoint : str, optional
        Path stem of a checkpoint (``.pt`` + ``.json``) written every ``checkpoint_every`` steps (at a
        check) and when the time budget stops the run.
    checkpoint_every : int
        Checkpoint period in steps (0: never).
    checkpoint_meta : dict, optional
        Extra JSON for the checkpoint.
    resume : dict, optional
        The ``extra`` state of a checkpoint (see :func:`load_checkpoint`); the model must already hold
        the checkpoint's weights.
    max_seconds : float, optional
        Stop (at a check) once this wall time has passed in this run.
    param_groups : callable, optional
        ``param_groups(model) -> list of dict`` for Adam (e.g. a larger learning rate for some
        parameters); default one group of all parameters at ``lr``.
    penalty : callable, optional
        ``penalty(model) -> Tensor`` added to the loss before the backward pass (not recorded).
    validate : Validation, optional
        The app's validation metric, scored every ``validate.every`` steps and on the final model
        (:attr:`TrainResult.validation`).

    Returns
    -------
    TrainResult
    """
    if lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"unknown lr_schedule {lr_schedule!r}; expected constant or cosine")
    check_every = max(1, int(check_every))
    groups = param_groups(model) if param_groups is not None else model.parameters()
    opt = torch.optim.Adam(groups, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max_iter, eta_min=lr_min) \
        if lr_schedule == "cosine" else None
    start, history, val_history = 0, [], []
    if resume:
        opt.load_state_dict(resume["optimizer"])
        if sched is not None and "scheduler" in resume:
            sched.load_state_dict(resume["scheduler"])
        start, history = int(resume["iter"]), list(resume.get("history", []))
        val_history = list(resume.get("val_history", []))
        if generator is not None and "generator" in resume:
            generator.set_state(resume["generator"])
        if "torch_rng" in resume:
            torch.set_rng_state(resume["torch_rng"])
    state = dict(opt=opt, sched=sched, generator=generator, path=checkpoint, meta=checkpoint_meta)
    model.train()
    t0 = time.perf_counter()
    acc, n_acc, it, reason = None, 0, start, "max_iter"
    for it in range(start + 1, max_iter + 1):
        batch = sample(generator)
        opt.zero_grad(set_to_none=True)
        value = loss(model, batch)
        total = value if penalty is None else value + penalty(model)
        total.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        if sched is not None:
            sched.step()
        acc = value.detach() if acc is None else acc + value.detach()
        n_acc += 1
        if it % check_every == 0 or it == max_iter:
            info = {"iter": it, "loss": float(acc) / n_acc, "seconds": time.perf_counter() - t0}
            acc, n_acc = None, 0
            ckpt = bool(checkpoint and checkpoint_every and it % checkpoint_every == 0)
            out_of_time = max_seconds is not None and info["seconds"] >= max_seconds and it < max_iter
            last = it == max_iter or out_of_time
            if validate is not None and (last or (validate.every and it % validate.every == 0)):
                info[validate.name] = validate(model)
                val_history.append({"iter": it, validate.name: info[validate.name]})
            history.append(info)
            if checkpoint and (ckpt or out_of_time):
                _save_checkpoint(model, it, history, val_history, **state)
            for cb in callbacks:
                cb(info, model)
            if out_of_time:
                reason = "max_seconds"
                break
    final = None
    if validate is not None:
        if val_history and val_history[-1]["iter"] == it:
            final = val_history[-1][validate.name]
        else:                                   # resumed at the end: nothing ran
            final = validate(model)
            val_history.append({"iter": it, validate.name: final})
    model.eval()
    return TrainResult(model=model, history=history, iterations=it, seconds=time.perf_counter() - t0,
                       stop_reason=reason, validation=final, val_history=val_history)


def load_checkpoint(path: str, model: torch.nn.Module, *, map_location="cpu") -> dict:
    """Load the weights of the checkpoint ``path`` (a stem, as given to :func:`fit`) into ``model``.

    Parameters
    ----------
    path : str
        Checkpoint stem (``path.pt`` + ``path.json``).
    model : torch.nn.Module
        Receives the weights (same architecture).
    map_location : str or torch.device
        Device of the loaded tensors.

    Returns
    -------
    dict
        The resume state for ``fit(..., resume=...)``.
    """
    from .io import load_model
    loaded, _, extra = load_model(path, map_location=map_location, with_extra=True)
    model.load_state_dict(loaded.state_dict())
    if not extra or "iter" not in extra:
        raise ValueError(f"{path}: not a training checkpoint (no optimiser state)")
    return extra


def train_and_save(model: torch.nn.Module, sample: Callable, loss: Callable, *, output: str, max_iter: int,
                   card: Callable, meta: dict | None = None, resume: bool = False,
                   device="cpu", **fit_kwargs) -> tuple:
    """:func:`fit` as ``sensekit train APP`` runs it: checkpoint and resume in ``output``, then the model
    and its card written as ``output/model.pt`` + ``output/model.json`` through the model registry.

    Parameters
    ----------
    model : torch.nn.Module
        A registered model kind (:func:`sensekit.learned.register_model`) or one defined in sensekit.
    sample, loss : callable
        As for :func:`fit`.
    output : str
        Folder of the model and of its resumable checkpoint ``output/checkpoint``.
    max_iter : int
        Optimiser steps.
    card : callable
        ``card(result) -> dict``: the app's model card from the :class:`TrainResult`; the validation
        metric (``result.validation``) is added under its name and as ``val_metric`` unless the card has it.
    meta : dict, optional
        JSON stored in the checkpoint (e.g. the training options).
    resume : bool
        Continue from ``output/checkpoint`` (``ConfigError`` naming it when there is none).
    device : str or torch.device
        Where the checkpoint's tensors go.
    **fit_kwargs
        Everything else :func:`fit` takes (``generator``, ``validate``, ``callbacks``, ``checkpoint_every``…).

    Returns
    -------
    (TrainResult, dict)
        The result and the card as written.
    """
    from ..io.errors import ConfigError
    from .io import save_model
    ckpt = os.path.join(output, "checkpoint")
    state = None
    if resume:
        if not os.path.exists(ckpt + ".pt"):
            raise ConfigError(f"--resume: no checkpoint {ckpt}.pt in {output}")
        try:
            state = load_checkpoint(ckpt, model, map_location=device)
        except (ValueError, RuntimeError, KeyError) as e:
            raise ConfigError(f"--resume: {ckpt}.pt: {e}") from None
    res = fit(model, sample, loss, max_iter=max_iter, checkpoint=ckpt, checkpoint_meta=meta, resume=state,
              **fit_kwargs)
    doc = dict(card(res))
    v = fit_kwargs.get("validate")
    if v is not None and res.validation is not None:
        doc.setdefault(v.name, res.validation)
        doc.setdefault("val_metric", v.name)
    os.makedirs(output, exist_ok=True)
    save_model(res.model, os.path.join(output, "model"), meta=doc)
    return res, doc


def _save_checkpoint(model, it, history, val_history, *, opt, sched, generator, path, meta):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    extra = {"optimizer": opt.state_dict(), "iter": it, "history": history, "val_history": val_history,
             "torch_rng": torch.get_rng_state()}
    if sched is not None:
        extra["scheduler"] = sched.state_dict()
    if generator is not None:
        extra["generator"] = generator.get_state()
    save_model(model, path, meta={"checkpoint_iter": it, **(meta or {})}, extra_state=extra)
