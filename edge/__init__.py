"""edge: firmware for city street-camera nodes.

Pipeline: capture -> privacy (masks burned into pixels) -> recorder / ANPR / preview,
with an MQTT uplink to the central system. See README.md for the architecture.
"""

__version__ = "0.1.0"
