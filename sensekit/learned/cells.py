"""Convolutional recurrent cells for recurrent inference machines.

Each cell maps an input feature map ``x`` (B, C_in, H, W) and its previous
hidden state ``h`` (B, C_h, H, W) to the new hidden state (B, C_h, H, W).
Input-to-hidden and hidden-to-hidden maps are convolutions, so the cells act
on images of any size.
"""
from __future__ import annotations

import torch
from torch import nn


def _conv(cin: int, cout: int, kernel: int, dilation: int = 1, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, padding=dilation * (kernel - 1) // 2, dilation=dilation, bias=bias)


class _Cell(nn.Module):
    gates: int = 1

    def __init__(self, in_channels: int, hidden: int, *, kernel_size: int = 1, dilation: int = 1):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.in_channels, self.hidden = int(in_channels), int(hidden)
        self.ih = _conv(in_channels, self.gates * hidden, kernel_size, dilation)

    def initial_state(self, x: torch.Tensor) -> torch.Tensor:
        """Zero hidden state for the input ``x`` (B, C_in, H, W)."""
        return x.new_zeros(x.shape[0], self.hidden, *x.shape[2:])

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.hidden}"


class ConvGRUCell(_Cell):
    """Convolutional gated recurrent unit (Cho et al. 2014).

    Notes
    -----
    With ``*`` a convolution and ⊙ the elementwise product::

        r  = σ(W_r * x + U_r * h + b_r)            reset gate
        z  = σ(W_z * x + U_z * h + b_z)            update gate
        n  = tanh(W_n * x + b_n + r ⊙ (U_n * h))   candidate
        h' = (1 − z) ⊙ n + z ⊙ h

    References
    ----------
    K. Cho et al., "Learning phrase representations using RNN encoder-decoder for statistical machine
    translation", EMNLP 2014.
    """

    gates = 3

    def __init__(self, in_channels: int, hidden: int, *, kernel_size: int = 1, dilation: int = 1):
        super().__init__(in_channels, hidden, kernel_size=kernel_size, dilation=dilation)
        self.hh = _conv(hidden, 3 * hidden, kernel_size, dilation, bias=False)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        xr, xz, xn = self.ih(x).chunk(3, dim=1)
        hr, hz, hn = self.hh(h).chunk(3, dim=1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        return n + z * (h - n)


class ConvMGUCell(_Cell):
    """Convolutional minimal gated unit (Zhou et al. 2016): a GRU with one (forget) gate.

    Notes
    -----
    ::

        f  = σ(W_f * x + U_f * h + b_f)
        n  = tanh(W_n * x + U_n * (f ⊙ h) + b_n)
        h' = (1 − f) ⊙ h + f ⊙ n

    References
    ----------
    G.-B. Zhou, J. Wu, C.-L. Zhang, Z.-H. Zhou, "Minimal gated unit for recurrent neural networks",
    International Journal of Automation and Computing 13(3), 2016.
    """

    gates = 2

    def __init__(self, in_channels: int, hidden: int, *, kernel_size: int = 1, dilation: int = 1):
        super().__init__(in_channels, hidden, kernel_size=kernel_size, dilation=dilation)
        self.hf = _conv(hidden, hidden, kernel_size, dilation, bias=False)
        self.hn = _conv(hidden, hidden, kernel_size, dilation, bias=False)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        xf, xn = self.ih(x).chunk(2, dim=1)
        f = torch.sigmoid(xf + self.hf(h))
        n = torch.tanh(xn + self.hn(f * h))
        return h + f * (n - h)


class ConvIndRNNCell(_Cell):
    """Convolutional independently recurrent cell (Li et al. 2018).

    Each hidden channel recurs only on itself, through one learned weight per
    channel — the cheapest of the three cells (Karkalousos et al. found it the
    fastest RIM cell at equal quality).

    Notes
    -----
    ::

        h' = relu(W * x + u ⊙ h + b),   u ∈ R^{C_h} (one recurrent weight per channel)

    ``u`` starts uniform in [0, 1) so that the recurrence neither explodes nor
    vanishes over a few steps.

    References
    ----------
    S. Li, W. Li, C. Cook, C. Zhu, Y. Gao, "Independently recurrent neural network (IndRNN): building a
    longer and deeper RNN", CVPR 2018.
    """

    gates = 1

    def __init__(self, in_channels: int, hidden: int, *, kernel_size: int = 1, dilation: int = 1):
        super().__init__(in_channels, hidden, kernel_size=kernel_size, dilation=dilation)
        self.u = nn.Parameter(torch.rand(hidden))

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.ih(x) + self.u.view(1, -1, 1, 1) * h)


CELLS = {"gru": ConvGRUCell, "mgu": ConvMGUCell, "indrnn": ConvIndRNNCell}
"""Recurrent cell name -> class."""
