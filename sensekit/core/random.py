"""Seeded random generators: every random draw in sensekit takes a ``generator``."""
from __future__ import annotations

import torch


def make_generator(seed: int | None = None, device: str | torch.device = "cpu") -> torch.Generator:
    """A :class:`torch.Generator` seeded with ``seed`` (a fresh nondeterministic one if None).

    Returns
    -------
    torch.Generator
        The generator on ``device``.
    """
    g = torch.Generator(device=device)
    if seed is None:
        g.seed()
    else:
        if not -2 ** 63 <= int(seed) < 2 ** 64:
            from ..io.errors import ConfigError
            raise ConfigError(f"--seed {seed}: out of range; expected an integer of at most 64 bits "
                              f"(with the sample index added: sample i uses seed + i)")
        g.manual_seed(int(seed))
    return g


def randn(shape, *, dtype=torch.float32, device="cpu", generator: torch.Generator | None = None):
    """Standard normal draws; complex dtypes get unit-variance circular noise.

    Draws happen on the generator's device and are moved to ``device`` so that
    a CPU generator gives the same numbers whatever the target device.

    Returns
    -------
    torch.Tensor
        Draws of shape ``shape``, ``dtype`` and ``device``.
    """
    gdev = generator.device if generator is not None else torch.device(device)
    if dtype.is_complex:
        rdt = torch.float64 if dtype == torch.complex128 else torch.float32
        re = torch.randn(shape, dtype=rdt, device=gdev, generator=generator)
        im = torch.randn(shape, dtype=rdt, device=gdev, generator=generator)
        out = torch.complex(re, im) / (2 ** 0.5)
    else:
        out = torch.randn(shape, dtype=dtype, device=gdev, generator=generator)
    return out.to(device=device, dtype=dtype)


def randn_like(x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard normal draws shaped like ``x`` (see :func:`randn`).

    Returns
    -------
    torch.Tensor
        Draws of the shape, dtype and device of ``x``.
    """
    return randn(x.shape, dtype=x.dtype, device=x.device, generator=generator)
