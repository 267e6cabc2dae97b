"""Frame sources: the synthetic street camera, OpenCV (files, V4L2, RTSP) and picamera2.

Vendor libraries are imported inside the implementation that needs them, never here.
"""

from edge.capture.base import FrameSource, open_source

__all__ = ["FrameSource", "open_source"]
