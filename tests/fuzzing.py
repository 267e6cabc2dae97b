"""How many examples a property test runs: its own quick count under `make test`, FUZZ_EXAMPLES (default
100000) under `make soak` (HYPOTHESIS_PROFILE=soak). For tests that need a count other than the profile's."""

from __future__ import annotations

import os


def examples(quick: int) -> int:
    if os.environ.get("HYPOTHESIS_PROFILE") == "soak":
        return int(os.environ.get("FUZZ_EXAMPLES", "100000"))
    return quick
