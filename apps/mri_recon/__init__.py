"""mri-recon: dynamic (and static) MRI reconstruction from undersampled Cartesian multi-coil k-space."""
