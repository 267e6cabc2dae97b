"""Plate detection and reading on masked frames (TFLite models trained by ``models/``).

Not built yet: the fan-out already has the slot for it (latest-frame policy).
"""
