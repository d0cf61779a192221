"""Cordon's exceptions. Each says what went wrong in words an on-call engineer can act on."""

from __future__ import annotations

# The message attribute every dead-letter queue's messages carry their failure in (what
# `cordon dlq` reads).
REASON_ATTRIBUTE = "cordon-failure-reason"


class CordonError(Exception):
    """Base of every error Cordon raises on purpose."""


class MalformedEventError(CordonError):
    """A message body that is no event Cordon knows: retrying it cannot help."""


class ObjectGoneError(CordonError):
    """The object was deleted (or never existed) before Cordon read it."""


class ObjectReplacedError(CordonError):
    """A newer object is at the key: Cordon neither deletes nor overwrites it."""


class QuarantineError(CordonError):
    """A quarantine step failed; the original stays where it was and the record is retried."""


class ChecksumMismatchError(QuarantineError):
    """The evidence copy does not hold the same bytes as the original."""


class TaskTokenGoneError(CordonError):
    """The workflow no longer waits on this task token: it was answered, it timed out, or its
    execution ended."""


class UnknownTenantError(CordonError):
    """No tenant is registered for a bucket or an id."""


class RequestError(CordonError):
    """A request a tenant's user made (API or CLI) that cannot be done; `status` is the HTTP
    status to answer with."""

    status = 400


class NotFoundError(RequestError):
    """Nothing by that name, or nothing this tenant may see: the same answer for both."""

    status = 404


class ForbiddenError(RequestError):
    status = 403


class ConflictError(RequestError):
    status = 409
