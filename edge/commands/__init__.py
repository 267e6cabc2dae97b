"""Signed request/response commands from the central system (``cams/<id>/cmd`` → ``cmd/result``).

parse (size, shape, Ed25519 signature, validity window) → replay guard → handlers → result + audit entry.
See docs/uplink.md.
"""
