"""``make bench``: measured speed of every stage on this machine (see docs/performance.md)."""
