"""Learned components: recurrent inference machines with convolutional recurrent cells, unrolled solvers
(:class:`Unrolled`: a core solver's step with learned step sizes / thresholds or a learned denoiser), the one
seeded, resumable training loop and save/load of models as a ``torch.save`` state dict plus a JSON config.

Trained weights that the project ships live in ``sensekit/learned/weights`` (see
``sensekit/learned/README.md`` for their model cards); nothing is downloaded at run time.
"""
from .cells import ConvGRUCell, ConvMGUCell, ConvIndRNNCell, CELLS
from .rim import RIM, data_gradient, to_channels, from_channels
from .io import save_model, load_model, read_model_card, model_paths, register_model, model_class, MODELS
from .train import fit, step_loss, TrainResult, Validation, train_and_save, load_checkpoint
from .unrolled import Unrolled, FunctionOp

__all__ = ["ConvGRUCell", "ConvMGUCell", "ConvIndRNNCell", "CELLS", "RIM", "data_gradient", "to_channels",
           "from_channels", "save_model", "load_model", "read_model_card", "model_paths", "register_model",
           "model_class", "MODELS", "fit", "step_loss", "TrainResult", "Validation", "train_and_save",
           "load_checkpoint", "Unrolled", "FunctionOp", "weights_path"]


def weights_path(name: str) -> str:
    """Path stem of a model shipped inside the package (``sensekit/learned/weights/<name>``).

    Returns
    -------
    str
        The path stem (without ``.pt``/``.json``).
    """
    import os
    return os.path.join(os.path.dirname(__file__), "weights", name)
