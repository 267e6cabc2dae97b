"""The MQTT uplink to the central system. One class, ``Uplink``, owns the MQTT client."""

from edge.uplink.mqtt import Uplink, UplinkState
from edge.uplink.topics import Topics

__all__ = ["Topics", "Uplink", "UplinkState"]
