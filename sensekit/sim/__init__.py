"""Synthetic generators with ground truth: phantoms, coils, masks (no downloads, ever)."""
from .masks import variable_density_lines, cartesian_mask, acceleration
from .phantom import dynamic_phantom
from .coils import coil_maps

__all__ = ["variable_density_lines", "cartesian_mask", "acceleration", "dynamic_phantom", "coil_maps"]
