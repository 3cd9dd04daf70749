"""gain-calib: blind gain calibration of sensor arrays from random projections."""
