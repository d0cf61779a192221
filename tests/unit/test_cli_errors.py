"""How `cordon` words each kind of failure: one line, what is wrong and what to do, and the
exit code (1: failed, 2: used wrongly). The commands' own paths are in
tests/functional/test_cli_errors.py; these are the exceptions they cannot easily provoke."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from chalicelib.errors import ConflictError, UnknownTenantError
from cordon_cli.errors import CliError, describe


def client_error(code: str, operation: str = "GetItem", **extra: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} message", **extra}}, operation)


@pytest.mark.parametrize(
    "error, code, words",
    [
        (NoCredentialsError(), 2, ["no AWS credentials", "--local"]),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1/"), 1, ["cannot reach"]),
        (client_error("AccessDeniedException"), 1, ["GetItem", "may not do this"]),
        (client_error("ResourceNotFoundException"), 1, ["is Cordon deployed"]),
        (
            client_error("NoSuchBucket", "HeadObject", BucketName="gone"),
            1,
            ["bucket gone does not exist"],
        ),
        (client_error("ThrottlingException"), 1, ["ThrottlingException"]),
        (UnknownTenantError("no tenant acme"), 2, ["no tenant acme", "cordon tenants list"]),
        (ConflictError("already decided"), 1, ["already decided"]),
        (CliError("bad flag"), 2, ["bad flag"]),
        (FileNotFoundError(2, "No such file", "x.csv"), 2, ["no such file: x.csv"]),
        (json.JSONDecodeError("Expecting value", "[1,", 3), 2, ["not valid JSON (line 1"]),
        (KeyboardInterrupt(), 130, ["interrupted"]),
        (RuntimeError("boom"), 1, ["unexpected RuntimeError", "--debug"]),
    ],
)
def test_each_failure_is_one_line_with_its_exit_code(error, code, words):
    failure = describe(error)
    assert failure.code == code
    assert "\n" not in failure.message
    for word in words:
        assert word in failure.message


def test_an_unreachable_local_endpoint_says_start_the_stack(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    message = describe(EndpointConnectionError(endpoint_url="http://127.0.0.1:1/")).message
    assert "start it with `cordon local`" in message
