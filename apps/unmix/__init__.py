"""unmix: hyperspectral unmixing (endmembers and abundances), robust to bad bands."""
