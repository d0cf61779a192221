"""SQS: messages sent to a queue, each with string attributes (a dead letter's reason...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Queue:
    """One SQS queue that Cordon sends to (the ingest and webhook dead-letter queues)."""

    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs = sqs
        self.url = url

    @classmethod
    def named(cls, sqs: Any, name: str) -> Queue:
        """The queue of this name in the client's account and region (one GetQueueUrl)."""
        return cls(sqs, sqs.get_queue_url(QueueName=name)["QueueUrl"])

    def send(self, body: str, attributes: Mapping[str, str]) -> str:
        """Send one message; returns its SQS message id."""
        response = self.sqs.send_message(
            QueueUrl=self.url,
            MessageBody=body,
            MessageAttributes={
                # SQS refuses empty attribute values.
                name: {"DataType": "String", "StringValue": value or "-"}
                for name, value in attributes.items()
            },
        )
        return response["MessageId"]
