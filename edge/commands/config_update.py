"""``set_config``: the central system changes an allow-listed part of the configuration.

Arguments: ``values`` (dotted key → new value) and/or ``reset`` (dotted keys that go back to the YAML's
value). Every key must be in ``edge.config_override.ALLOWED_KEYS``; anything else, masks included (they
have ``set_masks``), is refused with the key named and nothing changes.

A change is checked the way the next start will read it: the YAML as loaded at start, with the whole new
override merged over it, validated by the schema (so every bound and cross-field rule holds). A value
must also have the JSON type of the field (a number for a number: no ``"30"`` for ``30``). Only then is the
override file replaced atomically (``edge.config_override.write_override``), and only after that are
the changes applied: at once where a live applier is registered for the key (health interval, log level,
clip bandwidth cap, retention rules, export clean-up), otherwise at the next start
(``restart_required``). Each change is audited as ``config.changed`` with who and old → new values;
the command's own audit entry (``command.set_config``, written by ``CommandService``) records refusals.

Threading: ``update`` runs on the ``commands`` thread; ``status`` is read by health on other threads;
one lock guards the state. Appliers run on the ``commands`` thread and must only hand values over.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from edge.audit import AuditLog
from edge.commands.model import CommandError, ErrorCode
from edge.config import EdgeConfig, LoadedConfig, parse_config
from edge.config_override import (
    ALLOWED_KEYS,
    OVERRIDE_NAME,
    OverrideFile,
    OverrideStatus,
    disallowed,
    get_dotted,
    is_number,
    merged,
    write_override,
)
from edge.errors import ConfigError
from edge.storage.files import fsync_dir, remove_durably
from edge.uplink.payloads import utc_iso

log = logging.getLogger(__name__)

Applier = Callable[[EdgeConfig], None]
"""Puts the new configuration's value(s) for its key(s) into effect in the running node."""

MAX_KEYS = 64


class ConfigUpdater:
    def __init__(self, layers: LoadedConfig, audit: AuditLog, time_ns: Callable[[], int]) -> None:
        self._yaml = layers.yaml_data
        self._path = layers.override.path
        self._refused = layers.override.error
        # A refused override is not built upon: the first change starts from the YAML alone.
        self._values: dict[str, Any] = {} if self._refused else dict(layers.override.values)
        self._effective = layers.config
        self._running_doc = layers.config.model_dump(mode="json")
        """What the node started with: a key without a live applier keeps this value until a restart."""
        self._audit = audit
        self._time_ns = time_ns
        self._live: dict[str, Applier] = {}
        self._pending: set[str] = set()
        self._lock = threading.Lock()

    def add_live(self, keys: Iterable[str], applier: Applier) -> None:
        """Register how ``keys`` take effect without a restart. Call while wiring, before commands run."""
        for key in keys:
            if key not in ALLOWED_KEYS:
                raise ValueError(f"{key} is not in the set_config allow-list")
            self._live[key] = applier

    def status(self) -> OverrideStatus:
        with self._lock:
            return OverrideStatus(self._path, dict(self._values), self._refused, tuple(sorted(self._pending)))

    def update(self, values: Mapping[str, Any], reset: Sequence[str], actor: str) -> dict[str, Any]:
        """Validate, persist, apply and audit one change; raises ``CommandError`` leaving everything as
        it was. Returns the result data of ``set_config``."""
        keys = [*values, *reset]
        if not keys:
            raise CommandError(ErrorCode.BAD_ARGS, "set_config: give `values` and/or `reset`")
        if len(keys) > MAX_KEYS:
            raise CommandError(ErrorCode.BAD_ARGS, f"set_config: at most {MAX_KEYS} keys at once")
        bad = disallowed(keys)
        if bad:
            raise CommandError(
                ErrorCode.REFUSED,
                f"set_config may not change {', '.join(bad)}; "
                f"allowed keys: {', '.join(sorted(ALLOWED_KEYS))}",
            )
        both = sorted(set(values) & set(reset))
        if both:
            raise CommandError(ErrorCode.BAD_ARGS, f"set_config: {', '.join(both)} both set and reset")
        with self._lock:
            return self._update(values, reset, actor)

    def _update(self, values: Mapping[str, Any], reset: Sequence[str], actor: str) -> dict[str, Any]:
        keys = [*values, *reset]
        old_doc = self._effective.model_dump(mode="json")
        for key, value in values.items():
            _check_type(key, value, get_dotted(old_doc, key))
        candidate = {k: v for k, v in {**self._values, **values}.items() if k not in reset}
        try:
            new_config = parse_config(merged(self._yaml, candidate))
        except ConfigError as exc:
            asked = ", ".join(f"{k}={_show(v)}" for k, v in values.items())
            raise CommandError(
                ErrorCode.BAD_ARGS, f"set_config: {'; '.join(str(exc).splitlines())} (requested {asked})"
            ) from None
        new_doc = new_config.model_dump(mode="json")
        stored = {k: get_dotted(new_doc, k) for k in candidate}  # as validated, e.g. 30 -> 30.0
        changes = {
            k: (get_dotted(old_doc, k), get_dotted(new_doc, k))
            for k in keys
            if get_dotted(old_doc, k) != get_dotted(new_doc, k)
        }
        moved = self._persist(stored, actor)
        self._values = stored
        self._refused = ""
        self._effective = new_config
        applied, restart = self._apply(changes, new_config)
        detail = "; ".join(f"{k}: {_show(a)} -> {_show(b)}" for k, (a, b) in sorted(changes.items()))
        if restart:
            detail += f"; restart required for {', '.join(restart)}"
        if moved:
            detail += f"; the override refused at start was kept as {moved}"
        self._audit.append(actor=actor, action="config.changed", detail=(detail or "no change")[:1000])
        log.info("configuration changed by %s: %s", actor, detail or "no change")
        return {
            "changed": {k: {"old": a, "new": b} for k, (a, b) in sorted(changes.items())},
            "applied": applied,
            "restart_required": bool(self._pending),
            "restart_keys": sorted(self._pending),
            "override": dict(sorted(stored.items())),
        }

    def _persist(self, stored: dict[str, Any], actor: str) -> str:
        """Write (or, when empty, remove) the override file. Returns where a refused file was moved."""
        moved = ""
        try:
            if self._refused and self._path.exists():
                aside = self._path.with_name(f"{self._path.name}.refused-{self._time_ns()}")
                self._path.rename(aside)
                fsync_dir(self._path.parent)
                moved = aside.name
            if stored:
                write_override(self._path, OverrideFile(stored, utc_iso(self._time_ns()), actor))
            else:
                remove_durably([self._path])
        except OSError as exc:
            raise CommandError(ErrorCode.FAILED, f"set_config: cannot write {self._path}: {exc}") from None
        return moved

    def _apply(self, changes: Mapping[str, object], config: EdgeConfig) -> tuple[list[str], list[str]]:
        applied: list[str] = []
        done: set[int] = set()
        new_doc = config.model_dump(mode="json")
        for key in sorted(changes):
            applier = self._live.get(key)
            if applier is None:
                # Waits for a restart, unless this change returns it to what the node runs with.
                if get_dotted(new_doc, key) == get_dotted(self._running_doc, key):
                    self._pending.discard(key)
                else:
                    self._pending.add(key)
                continue
            try:
                if id(applier) not in done:  # one applier may serve several keys (retention rules)
                    applier(config)
                    done.add(id(applier))
            except Exception:  # an applier that fails leaves the change to the next start
                log.exception("could not apply %s at run time; it takes effect at the next start", key)
                self._pending.add(key)
                continue
            self._pending.discard(key)
            applied.append(key)
        return applied, sorted(k for k in changes if k in self._pending)


def _check_type(key: str, value: object, current: object) -> None:
    """JSON type of the request against the field's: pydantic would quietly turn ``"30"`` into 30."""
    if isinstance(current, bool):
        ok = isinstance(value, bool)
        want = "true or false"
    elif isinstance(current, int | float):
        ok = is_number(value)
        want = "a number"
    elif isinstance(current, str):
        ok = isinstance(value, str)
        want = "a string"
    else:
        return
    if not ok:
        raise CommandError(
            ErrorCode.BAD_ARGS, f"set_config: {key} must be {want}, got {type(value).__name__} {_show(value)}"
        )


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def plain_layers(config: EdgeConfig) -> LoadedConfig:
    """Layers for a node built from a configuration object (tests): that configuration is the YAML."""
    return LoadedConfig(
        config, config.model_dump(mode="json"), OverrideStatus(config.node.state_dir / OVERRIDE_NAME)
    )
