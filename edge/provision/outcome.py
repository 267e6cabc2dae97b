"""What one provisioning step did, for the report and for idempotency checks."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Change(enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    REMOVED = "removed"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One thing provisioning looked at: a path, an account, a key, the package."""

    change: Change
    subject: str
    detail: str = ""

    def line(self) -> str:
        text = f"{self.change.value:<9} {self.subject}"
        return f"{text} ({self.detail})" if self.detail else text
