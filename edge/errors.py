"""The exception family. Every error the node raises on purpose is an ``EdgeError``."""


class EdgeError(Exception):
    """Base class for errors raised by the node on purpose, with a message meant for a human."""


class ConfigError(EdgeError):
    """The configuration file is missing, unreadable or invalid."""


class CameraError(EdgeError):
    """A frame source could not be opened or stopped delivering frames."""


class PrivacyError(EdgeError):
    """The privacy stage cannot guarantee masking; no frame may leave it."""


class UplinkError(EdgeError):
    """The MQTT uplink was misconfigured or failed in a way retries cannot fix."""
