"""``edgectl``: the reference tool for the central side (live view of what nodes publish)."""
