"""``edgectl``: the reference tool for the central side (live view of what nodes publish, development
keys, verifying and decrypting clip exports)."""
