"""The append-only, hash-chained, signed audit log (requirement 10) and its verifier."""

from edge.audit.log import AuditEntry, AuditLog
from edge.audit.verify import ChainReport, verify_chain

__all__ = ["AuditEntry", "AuditLog", "ChainReport", "verify_chain"]
