"""Recording and the ring buffer: continuous H.264 segments, sealed at rest, indexed, purged by age and quota.

Modules, in the order a frame meets them (docs/storage.md describes formats and guarantees):

- ``recorder``      ``RecorderConsumer``: MaskedFrames in, one segment every ``segment_seconds`` out
- ``encoder``       the ``VideoEncoder`` protocol; ``pyav_encoder`` implements it with FFmpeg (libx264,
                    or the Raspberry Pi 4's hardware encoder through V4L2 M2M)
- ``sealing``       the sealed-segment format (AES-256-GCM chunks, key sealed to the central X25519 key)
- ``store``         ``SegmentStore``: crash-safe writes, legal holds, retention, state for health
- ``index`` ``files`` ``reconcile`` ``retention``   the store's parts
- ``export``        signed clip exports for the central side (``edgectl clip`` reads them)
- ``keys``          PEM key files for the central and device keys
- ``profiles``      processing profiles and their hard retention ceilings
- ``model`` ``errors``   the dataclasses and exceptions that cross the package's border
- ``factory``       builds store and recorder from the configuration (for ``edge.app``)

This ``__init__`` imports nothing, so ``edge.config`` can import ``profiles`` without a cycle, and a node
that does not record never imports PyAV.
"""
