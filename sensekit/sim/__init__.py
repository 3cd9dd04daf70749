"""Synthetic generators with ground truth: phantoms, coils, masks, video (no downloads, ever)."""
from .masks import (variable_density_lines, variable_density_points, cartesian_mask, equispaced_lines,
                    golden_angle_spokes, sampling_mask, acceleration, PATTERNS)
from .phantom import dynamic_phantom
from .coils import coil_maps
from .video import VideoScene, video_scene, video_sequence

__all__ = ["variable_density_lines", "variable_density_points", "cartesian_mask", "equispaced_lines",
           "golden_angle_spokes", "sampling_mask", "acceleration", "PATTERNS", "dynamic_phantom", "coil_maps",
           "VideoScene", "video_scene", "video_sequence"]
