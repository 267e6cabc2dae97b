"""Signed request/response commands from the central system (``cams/<id>/cmd``). Not built yet."""
