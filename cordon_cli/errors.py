"""What the `cordon` command says when something goes wrong: one line on stderr, what is wrong
and what to do, and an exit code (1: it failed, 2: the command was used wrongly). `main()`
hands every exception here; `--debug` prints the traceback as well.

botocore is imported only when an error is described, so a command that fails before talking
to AWS does not pay for it.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass

from chalicelib.errors import CordonError, RequestError, UnknownTenantError

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


class CliError(Exception):
    """A mistake the command can name: `message` says what is wrong and what to do."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Failure:
    message: str
    code: int


# ClientError codes and what to do about them.
_MISSING_RESOURCE = (
    "is Cordon deployed in this account and region (or, with --local, is this the stack "
    "`cordon local` runs)?"
)
_CLIENT_HINTS = {
    "NoSuchBucket": "create it (`cordon tenants add NAME --bucket B --create-bucket`) or check "
    "the name",
    "AccessDenied": "the credentials in use may not do this: check the account and role",
    "AccessDeniedException": "the credentials in use may not do this: check the account and role",
    "UnrecognizedClientException": "the credentials are not valid here: check them (or add "
    "--local for the local stack)",
    "InvalidClientTokenId": "the credentials are not valid here: check them (or add --local "
    "for the local stack)",
    "ExpiredToken": "the credentials have expired: renew them",
    "ExpiredTokenException": "the credentials have expired: renew them",
    "ResourceNotFoundException": _MISSING_RESOURCE,
    "QueueDoesNotExist": _MISSING_RESOURCE,
    "AWS.SimpleQueueService.NonExistentQueue": _MISSING_RESOURCE,
    "NotFound": _MISSING_RESOURCE,
}


def describe(error: BaseException) -> Failure:
    """The one line and the exit code for an exception; unknown ones are named as a bug."""
    if isinstance(error, CliError):
        return Failure(str(error), error.code)
    if isinstance(error, UnknownTenantError):
        return Failure(f"{error}: `cordon tenants list` shows the registered ones", EXIT_USAGE)
    if isinstance(error, RequestError):
        return Failure(str(error), EXIT_FAILED)
    if isinstance(error, CordonError):
        return Failure(str(error), EXIT_FAILED)
    if isinstance(error, KeyboardInterrupt):
        return Failure("interrupted", EXIT_INTERRUPTED)
    if isinstance(error, FileNotFoundError):
        return Failure(f"no such file: {error.filename}: check the path", EXIT_USAGE)
    if isinstance(error, IsADirectoryError):
        return Failure(f"{error.filename} is a directory: name a file", EXIT_USAGE)
    if isinstance(error, json.JSONDecodeError):
        return Failure(
            f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}): fix "
            "the file",
            EXIT_USAGE,
        )
    botocore = _botocore_failure(error)
    if botocore is not None:
        return botocore
    if isinstance(error, ValueError):
        return Failure(str(error), EXIT_USAGE)
    return Failure(
        f"unexpected {type(error).__name__}: {error} (run again with --debug for the "
        "traceback, and report it)",
        EXIT_FAILED,
    )


def _botocore_failure(error: BaseException) -> Failure | None:
    if "botocore" not in sys.modules:
        return None  # nothing talked to AWS, so no botocore error can be raised
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )

    if isinstance(error, NoCredentialsError):
        return Failure(
            "no AWS credentials: for the local stack add --local (after `cordon local`); for "
            "AWS, configure credentials (AWS_PROFILE, `aws configure`)",
            EXIT_USAGE,
        )
    if isinstance(error, NoRegionError):
        return Failure(
            "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), or add --local", EXIT_USAGE
        )
    if isinstance(error, EndpointConnectionError):
        endpoint = error.kwargs.get("endpoint_url", "the endpoint")
        hint = (
            "the local stack is not running: start it with `cordon local`"
            if os.environ.get("AWS_ENDPOINT_URL")
            else "check the network and the region"
        )
        return Failure(f"cannot reach {endpoint}: {hint}", EXIT_FAILED)
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code", "Unknown"))
        operation = error.operation_name
        what = details.get("Message") or code
        if code == "NoSuchBucket" and details.get("BucketName"):
            what = f"bucket {details['BucketName']} does not exist"
        hint = _CLIENT_HINTS.get(code, "see the AWS error above")
        return Failure(f"AWS refused {operation} ({code}): {what}: {hint}", EXIT_FAILED)
    return None


def quiet_broken_pipe() -> int:
    """The reader of our output went away (`cordon ... | head`): stop without a word, as
    `head` expects, and keep Python's final flush from failing on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 0
