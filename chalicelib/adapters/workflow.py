"""Step Functions: start the review workflow of a case, answer its waiting tasks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.errors import TaskTokenGoneError

# What Step Functions answers for a token it no longer waits on (answered or timed out:
# TaskTimedOut; an execution that ended: TaskDoesNotExist; InvalidToken for one it never had).
TOKEN_GONE = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class ReviewWorkflow:
    def __init__(self, sfn: Any, state_machine_arn: str) -> None:
        self.sfn = sfn
        self.state_machine_arn = state_machine_arn

    def execution_arn(self, name: str) -> str:
        """The ARN an execution of this name has (Step Functions derives it from the name)."""
        prefix, _, machine = self.state_machine_arn.rpartition(":stateMachine:")
        return f"{prefix}:execution:{machine}:{name}"

    def start(self, name: str, payload: dict[str, Any]) -> str:
        """Start an execution; a retry with the same name finds the one already started."""
        try:
            return self.sfn.start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(payload)
            )["executionArn"]
        except ClientError as error:
            if error.response["Error"]["Code"] != "ExecutionAlreadyExists":
                raise
            return self.execution_arn(name)

    def succeed(self, token: str, output: dict[str, Any]) -> None:
        with _token_gone():
            self.sfn.send_task_success(taskToken=token, output=json.dumps(output, default=str))

    def fail(self, token: str, error: str, cause: str) -> None:
        with _token_gone():
            self.sfn.send_task_failure(taskToken=token, error=error[:256], cause=cause[:32768])

    def status(self, execution_arn: str) -> str:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED."""
        return self.sfn.describe_execution(executionArn=execution_arn)["status"]


@contextmanager
def _token_gone() -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        if error.response["Error"]["Code"] in TOKEN_GONE:
            raise TaskTokenGoneError(str(error)) from error
        raise
