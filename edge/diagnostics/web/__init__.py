"""The technicians' diagnostics page and the Prometheus endpoint (see docs/diagnostics.md).

Import from the submodules: ``server`` pulls in Starlette and uvicorn, which a node with the page
switched off never needs to load.
"""
