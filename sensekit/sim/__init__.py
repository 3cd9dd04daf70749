"""Synthetic generators with ground truth: phantoms, coils, masks (no downloads, ever)."""
from .masks import (variable_density_lines, variable_density_points, cartesian_mask, equispaced_lines,
                    golden_angle_spokes, sampling_mask, acceleration, PATTERNS)
from .phantom import dynamic_phantom
from .coils import coil_maps

__all__ = ["variable_density_lines", "variable_density_points", "cartesian_mask", "equispaced_lines",
           "golden_angle_spokes", "sampling_mask", "acceleration", "PATTERNS", "dynamic_phantom", "coil_maps"]
