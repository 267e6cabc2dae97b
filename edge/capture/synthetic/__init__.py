"""The synthetic street camera: a rendered, deterministic street with ground truth for every frame.

``SyntheticStreetCamera`` is the frame source; ``FACADE_PRIVATE_AREAS`` are the façade's private areas
(windows, doors, the shop front) as normalised polygons, ready to be used as privacy masks. The plate
renderer in ``plates`` is also meant for making ANPR training data.
"""

from edge.capture.synthetic.camera import SyntheticStreetCamera
from edge.capture.synthetic.facade_layout import FACADE_PRIVATE_AREAS

__all__ = ["FACADE_PRIVATE_AREAS", "SyntheticStreetCamera"]
