"""A real H.264 test clip (PyAV / libx264) whose frames say which frame they are.

Each frame carries its number twice: as text for a human looking at it, and as six black/white blocks
(bit 0 leftmost) that survive compression, so tests can check order. A red patch bottom-left and a blue
patch bottom-right check the channel order of whatever decodes it.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np

from edge.types import Pixels

WIDTH = 320
HEIGHT = 240
BITS = 6
_BLOCK = 40
_STEP = 50
_PATCH = 40
RED_CENTRE = (HEIGHT - 30, 30)
"""(row, column) of the red patch's centre."""
BLUE_CENTRE = (HEIGHT - 30, WIDTH - 30)


def render(number: int) -> Pixels:
    image = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)
    for bit in range(BITS):
        x = 10 + bit * _STEP
        image[10 : 10 + _BLOCK, x : x + _BLOCK] = 255 if number >> bit & 1 else 0
    image[HEIGHT - 50 : HEIGHT - 10, 10 : 10 + _PATCH] = (0, 0, 255)
    image[HEIGHT - 50 : HEIGHT - 10, WIDTH - 50 : WIDTH - 10] = (255, 0, 0)
    cv2.putText(image, str(number), (120, 150), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
    return image


def frame_number(pixels: Pixels) -> int:
    number = 0
    for bit in range(BITS):
        x = 10 + bit * _STEP + _BLOCK // 2
        if pixels[10 + _BLOCK // 2, x].mean() > 128:
            number |= 1 << bit
    return number


def write_test_video(path: Path, frames: int = 40, fps: int = 25) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for number in range(frames):
            frame = av.VideoFrame.from_ndarray(render(number), format="bgr24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
