"""Recurrent inference machine (RIM) for linear inverse problems y = A x + noise, complex images.

The RIM learns an iterative solver: starting from x₀ = Aᴴy it repeats

    ∇_t = Aᴴ(A x_t − y)                       (gradient of the data term ½‖Ax − y‖²)
    Δ_t, h_{t+1} = g_φ(x_t, ∇_t, h_t)
    x_{t+1} = x_t + Δ_t

for a fixed number of steps, where g_φ is a small convolutional recurrent
network with hidden states h carried from step to step.  Any sensekit
:class:`~sensekit.linop.LinOp` whose ``in_shape`` ends with two spatial axes
(…, Y, X) can serve as A, so other apps reuse the module unchanged.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn

from .cells import CELLS, _conv


def data_gradient(A, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient of the data term ½‖A x − y‖² with respect to x: Aᴴ(A x − y).

    Parameters
    ----------
    A : LinOp
    x : Tensor, shape ``(*batch, *A.in_shape)``, complex
    y : Tensor, shape ``(*batch, *A.out_shape)``, complex

    Returns
    -------
    Tensor, shape of ``x``.  (For complex x this is the conjugate Wirtinger
    gradient ``2 ∂f/∂x̄``, the one torch's autograd returns.)
    """
    return A.H(A(x) - y)


def to_channels(z: torch.Tensor) -> torch.Tensor:
    """Complex (N, Y, X) → real (N, 2, Y, X) (real and imaginary parts as channels).

    Returns
    -------
    torch.Tensor
        The real ``(N, 2, Y, X)`` tensor.
    """
    return torch.stack((z.real, z.imag), dim=1)


def from_channels(c: torch.Tensor) -> torch.Tensor:
    """Real (N, 2, Y, X) → complex (N, Y, X).

    Returns
    -------
    torch.Tensor
        The complex ``(N, Y, X)`` tensor.
    """
    return torch.complex(c[:, 0], c[:, 1])


class RIM(nn.Module):
    """Recurrent inference machine with a selectable convolutional recurrent cell.

    The network g_φ is conv(5×5) → ReLU → cell → conv(3×3, dilation 2) → ReLU → cell → conv(3×3) to the
    two channels (real, imaginary) of the update; its input channels are the current estimate and the
    data-term gradient of the frame (4 channels) plus, with ``context`` = k > 0, the current estimates of
    the k neighbouring frames on each side along the frame axis (the third-last image axis; replicated at
    the ends; a static image is its own neighbour).  Frames (and every other leading axis) are the
    network's batch, so the same weights serve images of any size and series of any length.

    Scale: A is normalised by ``lipschitz`` (an upper bound of ‖AᴴA‖) and the data by the peak of the
    normalised zero-filled image Aᴴy / L of each batch element, so the network always works on unit-scale
    images and unit-norm operators; the estimate is scaled back.  The output therefore scales linearly with
    y and does not change when A is multiplied by a constant.

    Parameters
    ----------
    cell : {"indrnn", "gru", "mgu"}
        Recurrent cell (see :mod:`sensekit.learned.cells`).
    features : int
        Channels of the convolutional layers.
    hidden : int, optional
        Channels of the recurrent hidden states (default ``features``).
    steps : int
        Number of RIM steps T.
    context : int
        Neighbouring frames on each side fed as extra input channels (0 = frames independent).
    rnn_kernel : int
        Kernel side of the recurrent cells' convolutions.
    generator : torch.Generator, optional
        Seeds the initial weights.

    Notes
    -----
    Training minimises the loss averaged over the steps, (1/T) Σ_t ‖x_t − x_true‖² (Lønning et al.).

    References
    ----------
    P. Putzky, M. Welling, "Recurrent inference machines for solving inverse problems", arXiv 1706.04008, 2017.
    K. Lønning, P. Putzky, J.-J. Sonke, L. Reneman, M. W. A. Caan, M. Welling, "Recurrent inference
    machines for reconstructing heterogeneous MRI data", Medical Image Analysis 53, 2019.
    D. Karkalousos et al., "Reconstructing unseen modalities and pathology with an efficient recurrent
    inference machine", arXiv 2012.07819, 2020.

    Examples
    --------
    >>> import torch
    >>> from sensekit.linop import FFT, Mask
    >>> from sensekit.learned import RIM
    >>> A = Mask(torch.rand(16, 16) < 0.5, (16, 16)) @ FFT((16, 16))
    >>> rim = RIM(cell="indrnn", features=8, steps=3, generator=torch.Generator().manual_seed(0))
    >>> y = A(torch.randn(2, 16, 16, dtype=torch.complex64))
    >>> xs = rim(A, y, lipschitz=1.0)
    >>> len(xs), tuple(xs[-1].shape)
    (3, (2, 16, 16))
    """

    def __init__(self, *, cell: str = "indrnn", features: int = 64, hidden: int | None = None, steps: int = 8,
                 context: int = 0, rnn_kernel: int = 1, generator: torch.Generator | None = None):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"unknown recurrent cell {cell!r}; expected one of {', '.join(CELLS)}")
        if steps < 1 or features < 1 or context < 0:
            raise ValueError("steps and features must be >= 1 and context >= 0")
        hidden = features if hidden is None else int(hidden)
        self.cell_name, self.features, self.hidden, self.steps = cell, int(features), hidden, int(steps)
        self.context, self.rnn_kernel = int(context), int(rnn_kernel)
        cin = 4 + 4 * self.context
        Cell = CELLS[cell]
        self.conv1 = _conv(cin, features, 5)
        self.rnn1 = Cell(features, hidden, kernel_size=rnn_kernel)
        self.conv2 = _conv(hidden, features, 3, dilation=2)
        self.rnn2 = Cell(features, hidden, kernel_size=rnn_kernel)
        self.conv3 = _conv(hidden, 2, 3)
        self.reset_parameters(generator)

    # ------------------------------------------------------------------ config
    @property
    def config(self) -> dict:
        """The constructor arguments (JSON-serialisable); ``RIM(**config)`` rebuilds the architecture."""
        return {"cell": self.cell_name, "features": self.features, "hidden": self.hidden, "steps": self.steps,
                "context": self.context, "rnn_kernel": self.rnn_kernel}

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Uniform ±1/√fan_in for every weight and bias (the last layer ×0.1); IndRNN ``u`` in [0, 1)."""
        for name, p in self.named_parameters():
            if name.endswith(".u"):
                p.copy_(torch.rand(p.shape, generator=generator, dtype=p.dtype))
                continue
            owner = self.get_submodule(name.rsplit(".", 1)[0])
            fan_in = owner.weight[0].numel()
            bound = 1.0 / math.sqrt(fan_in) * (0.1 if owner is self.conv3 else 1.0)
            p.copy_((torch.rand(p.shape, generator=generator, dtype=p.dtype) * 2 - 1) * bound)

    # ------------------------------------------------------------------ network
    def _inputs(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """(F, T, Y, X) complex estimate and gradient → (F·T, channels, Y, X) real network input."""
        F_, T, Y, X = x.shape
        parts = [x, g]
        idx = torch.arange(T, device=x.device)
        for d in range(1, self.context + 1):
            parts.append(x[:, (idx - d).clamp(min=0)])
            parts.append(x[:, (idx + d).clamp(max=T - 1)])
        z = torch.stack(parts, dim=2).reshape(F_ * T, len(parts), Y, X)
        return torch.cat((z.real, z.imag), dim=1)

    def _net(self, inp: torch.Tensor, h: list) -> tuple[torch.Tensor, list]:
        a = torch.relu(self.conv1(inp))
        h0 = self.rnn1(a, h[0] if h[0] is not None else self.rnn1.initial_state(a))
        a = torch.relu(self.conv2(h0))
        h1 = self.rnn2(a, h[1] if h[1] is not None else self.rnn2.initial_state(a))
        return self.conv3(h1), [h0, h1]

    def forward(self, A, y: torch.Tensor, *, x0: torch.Tensor | None = None, lipschitz: float | None = None,
                steps: int | None = None, callbacks: Sequence[Callable] = ()) -> list:
        """Run the RIM; returns the estimates after every step (the last is the reconstruction).

        Parameters
        ----------
        A : LinOp with ``in_shape`` ``(*lead, Y, X)``; the estimate is complex.
        y : Tensor, shape ``(*batch, *A.out_shape)``, complex — the measurements.
        x0 : Tensor, shape ``(*batch, *A.in_shape)``, optional — the start (default Aᴴy / L).
        lipschitz : float, optional
            An upper bound of ‖AᴴA‖ (default: estimated by power iteration, 20 steps, with a 5 % margin).
        steps : int, optional — number of steps (default ``self.steps``).
        callbacks : callables ``cb({"iter": t}, x_t)`` called after every step.

        Returns
        -------
        list of Tensor, each of shape ``(*batch, *A.in_shape)``, complex, dtype of ``y``.
        """
        in_shape = tuple(A.in_shape)
        if len(in_shape) < 2:
            raise ValueError(f"RIM needs an operator on images (…, Y, X); got in_shape {in_shape}")
        if not y.is_complex():
            raise TypeError("RIM: y must be complex")
        if lipschitz is None:
            from ..linop import opnorm
            lipschitz = 1.05 * opnorm(A, dtype=y.dtype, device=y.device, max_iter=20) ** 2
        L = float(lipschitz)
        if not L > 0:
            raise ValueError(f"lipschitz must be positive, got {lipschitz}")
        batch = tuple(y.shape[: y.ndim - len(A.out_shape)])
        ni, no = len(in_shape), len(A.out_shape)
        aty = A.H(y) / L
        s = aty.abs().amax(dim=tuple(range(len(batch), aty.ndim)), keepdim=True)
        s = torch.where(s > 0, s, torch.ones_like(s))
        s_out = s.reshape(*batch, *([1] * no))
        yn = y / s_out
        x = (aty if x0 is None else x0) / s
        frames = (-1, *(in_shape[-3:] if ni >= 3 else (1, *in_shape)))
        h = [None, None]
        out = []
        for t in range(steps or self.steps):
            g = A.H(A(x) - yn) / L
            inp = self._inputs(x.reshape(frames), g.reshape(frames))
            dx, h = self._net(inp, h)
            x = x + from_channels(dx).reshape(x.shape)
            out.append(x * s)
            for cb in callbacks:
                cb({"iter": t + 1}, out[-1])
        return out

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.config.items())
