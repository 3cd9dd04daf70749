"""Linear operators: a small algebra of torch modules with adjoints.

Every operator acts on ``(*batch, *in_shape)`` tensors and passes the contract
checks in :mod:`sensekit.testing` (dot test, linearity, normal, batching,
device/dtype, autograd = adjoint).
"""
from .base import LinOp, Adjoint, Compose, Sum, Scale, Identity, cast_like
from .basic import Diag, Multiply, Mask, Sample, Reshape, Permute, Roll, Pad, Crop, AxisSum, Select
from .fourier import FFT, fftc, ifftc
from .diff import FiniteDiff
from .sense import Sense
from .tensor import Unfold, ModeProduct, Kron, unfold, fold, mode_dot, multi_mode_dot, khatri_rao
from .wavelet import Wavelet
from .norm import opnorm
from .sensing import MatrixSensing
from .stack import Dense, VStack, HStack, BlockDiag, split, join

__all__ = [
    "LinOp", "Adjoint", "Compose", "Sum", "Scale", "Identity", "cast_like",
    "Diag", "Multiply", "Mask", "Sample", "Reshape", "Permute", "Roll", "Pad", "Crop", "AxisSum", "Select", "Wavelet",
    "FFT", "fftc", "ifftc", "FiniteDiff", "Sense", "Unfold", "opnorm",
    "ModeProduct", "Kron", "unfold", "fold", "mode_dot", "multi_mode_dot", "khatri_rao",
    "MatrixSensing", "Dense", "VStack", "HStack", "BlockDiag", "split", "join",
]
from .nufft import NUFFT, nudft, pipe_menon_dcf  # noqa: E402

__all__ += ["NUFFT", "nudft", "pipe_menon_dcf"]
