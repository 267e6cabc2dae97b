"""The node's system user and group, and name-to-id lookup in the target's own account files.

Two modes. ``SYSTEM`` creates the accounts with shadow's ``groupadd`` / ``useradd`` / ``usermod`` (with
``--prefix ROOT`` when the target is not the running system, e.g. a mounted SD-card image) and ``chown``s
every provisioned path to them. ``MANIFEST`` (the default for ``--root`` directories) creates no accounts
and changes no owners: the intended owner of every path is written to the provisioning manifest instead,
so tests and image builders that are not root can still check the layout.
"""

from __future__ import annotations

import enum
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from edge.provision.errors import ProvisionError
from edge.provision.layout import (
    SERVICE_GROUP,
    SERVICE_HOME,
    SERVICE_SHELL,
    SERVICE_USER,
    SUPPLEMENTARY_GROUPS,
    Target,
)
from edge.provision.outcome import Change, Outcome

log = logging.getLogger(__name__)

_COMMENT = "edge street-camera node"


class AccountsMode(enum.Enum):
    SYSTEM = "system"
    """Create real accounts and chown files to them."""
    MANIFEST = "manifest"
    """Record intended owners in the manifest only."""


@dataclass(frozen=True, slots=True)
class AccountIds:
    """User and group names to numeric ids, read from the target's ``etc/passwd`` and ``etc/group``."""

    users: dict[str, int]
    groups: dict[str, int]
    members: dict[str, frozenset[str]]
    """Group name to the users listed as its supplementary members."""

    def uid(self, name: str) -> int:
        try:
            return self.users[name]
        except KeyError:
            raise ProvisionError(f"user {name!r} does not exist on the target") from None

    def gid(self, name: str) -> int:
        try:
            return self.groups[name]
        except KeyError:
            raise ProvisionError(f"group {name!r} does not exist on the target") from None


def _colon_file(path: Path) -> list[list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ProvisionError(f"{path}: cannot read: {exc.strerror}") from None
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def read_account_ids(target: Target) -> AccountIds:
    """Parse the target's account files directly: they, not this host's NSS, define the target's ids."""
    users = {f[0]: int(f[2]) for f in _colon_file(target.host(PurePosixPath("/etc/passwd"))) if len(f) >= 7}
    groups: dict[str, int] = {}
    members: dict[str, frozenset[str]] = {}
    for f in _colon_file(target.host(PurePosixPath("/etc/group"))):
        if len(f) >= 4:
            groups[f[0]] = int(f[2])
            members[f[0]] = frozenset(m for m in f[3].split(",") if m)
    return AccountIds(users, groups, members)


def _run(argv: list[str]) -> None:
    log.info("running %s", " ".join(argv))
    try:
        subprocess.run(argv, check=True, capture_output=True, text=True)  # noqa: S603 - fixed argv
    except FileNotFoundError:
        raise ProvisionError(f"{argv[0]} not found; install the 'passwd' package") from None
    except subprocess.CalledProcessError as exc:
        raise ProvisionError(f"{' '.join(argv)} failed: {exc.stderr.strip() or exc.returncode}") from None


def ensure_accounts(target: Target) -> list[Outcome]:
    """Create group ``edge`` and system user ``edge`` (member of ``video``), each only if missing."""
    prefix = [] if target.is_live_system else ["--prefix", str(target.root.resolve())]
    outcomes: list[Outcome] = []
    ids = read_account_ids(target)
    for group in SUPPLEMENTARY_GROUPS:
        if group not in ids.groups:
            raise ProvisionError(
                f"group {group!r} is missing on the target (Debian's base-passwd provides it); "
                "the node needs it for the camera devices"
            )
    if SERVICE_GROUP in ids.groups:
        outcomes.append(Outcome(Change.UNCHANGED, f"group {SERVICE_GROUP}"))
    else:
        _run(["groupadd", *prefix, "--system", SERVICE_GROUP])
        outcomes.append(Outcome(Change.CREATED, f"group {SERVICE_GROUP}"))
    if SERVICE_USER in ids.users:
        outcomes.append(Outcome(Change.UNCHANGED, f"user {SERVICE_USER}"))
    else:
        _run(
            [
                "useradd",
                *prefix,
                "--system",
                "--gid",
                SERVICE_GROUP,
                "--groups",
                ",".join(SUPPLEMENTARY_GROUPS),
                "--home-dir",
                str(SERVICE_HOME),
                "--no-create-home",
                "--shell",
                str(SERVICE_SHELL),
                "--comment",
                _COMMENT,
                SERVICE_USER,
            ]
        )
        outcomes.append(Outcome(Change.CREATED, f"user {SERVICE_USER}", "system user, no login"))
        ids = read_account_ids(target)
    missing = [g for g in SUPPLEMENTARY_GROUPS if SERVICE_USER not in ids.members.get(g, frozenset())]
    if missing:
        _run(["usermod", *prefix, "--append", "--groups", ",".join(missing), SERVICE_USER])
        outcomes.append(Outcome(Change.UPDATED, f"user {SERVICE_USER}", f"added to {', '.join(missing)}"))
    return outcomes
