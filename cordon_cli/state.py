"""Which stack a command talks to: the local one (`--local`, through the state file `cordon
local` writes) or AWS (said before the first call: which account, which region).

The state file is, in this order: `--state-file`; `$CORDON_STATE`; the first
`.cordon/local.json` in the current directory or one above it (so `cordon --local` works from
anywhere in the clone where `cordon local` runs). `cordon local` writes it at the first of
`--state-file`, `$CORDON_STATE` and `./.cordon/local.json`.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import TextIO
from urllib.parse import urlparse

from cordon_cli.errors import EXIT_FAILED, EXIT_USAGE, CliError

STATE_NAME = Path(".cordon/local.json")
STATE_VARIABLE = "CORDON_STATE"


def state_file_to_write(explicit: Path | None) -> Path:
    """Where `cordon local` writes its state."""
    if explicit is not None:
        return explicit
    if os.environ.get(STATE_VARIABLE):
        return Path(os.environ[STATE_VARIABLE])
    return STATE_NAME


def find_state_file(explicit: Path | None, cwd: Path | None = None) -> Path | None:
    """The state file `--local` reads, or None when there is none to be found."""
    if explicit is not None:
        return explicit if explicit.exists() else None
    if os.environ.get(STATE_VARIABLE):
        named = Path(os.environ[STATE_VARIABLE])
        return named if named.exists() else None
    here = (cwd or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / STATE_NAME
        if candidate.exists():
            return candidate
    return None


def local_environment(explicit: Path | None, cwd: Path | None = None) -> dict[str, str]:
    """The variables of the running local stack; CliError when there is none."""
    path = find_state_file(explicit, cwd)
    if path is None:
        looked = (
            str(explicit)
            if explicit
            else os.environ.get(STATE_VARIABLE)
            or f"{STATE_NAME} in {cwd or Path.cwd()} and the directories above it"
        )
        raise CliError(
            f"no local stack: no state file ({looked}): start one with `cordon local` (from "
            f"this clone), or set {STATE_VARIABLE} to the file it wrote",
            EXIT_USAGE,
        )
    try:
        environment = json.loads(path.read_text())["environment"]
    except (ValueError, KeyError, TypeError) as error:
        raise CliError(
            f"the state file {path} is unreadable ({error}): restart `cordon local`", EXIT_FAILED
        ) from error
    endpoint = environment.get("AWS_ENDPOINT_URL", "")
    if not _listening(endpoint):
        raise CliError(
            f"the local stack at {endpoint} is not running ({path} is left from an earlier "
            "one): start it with `cordon local`",
            EXIT_FAILED,
        )
    return environment


def _listening(endpoint: str, timeout: float = 1.0) -> bool:
    url = urlparse(endpoint)
    if not url.hostname or not url.port:
        return False
    try:
        with socket.create_connection((url.hostname, url.port), timeout=timeout):
            return True
    except OSError:
        return False


def announce_aws_target(stream: TextIO) -> None:
    """Before a command talks to AWS itself (no --local, no endpoint of the local stack): say
    which account and region it is about to touch, or fail when there are no credentials."""
    import boto3

    session = boto3.session.Session()
    if session.get_credentials() is None:
        raise CliError(
            "no AWS credentials, and no --local: for the local stack add --local (after "
            "`cordon local`); for AWS, configure credentials (AWS_PROFILE, `aws configure`)",
            EXIT_USAGE,
        )
    region = session.region_name
    if region is None:
        raise CliError("no AWS region: set AWS_REGION, or add --local", EXIT_USAGE)
    account = session.client("sts").get_caller_identity()["Account"]
    print(
        f"cordon: AWS account {account}, region {region} (not the local stack: add --local "
        "for that)",
        file=stream,
        flush=True,
    )
