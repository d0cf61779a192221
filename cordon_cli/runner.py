"""A local stand-in for Lambda's SQS event source mapping.

It polls a queue, hands the handler the event Lambda would (same record shape, attributes
included, so receive counts and dead-lettering behave as deployed), deletes the records the
handler did not report as failed, and makes the failed ones visible again after a short delay,
as a visibility timeout would.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib import logs

# The handlers' own logger: a runner's failures land beside their lines, in the same JSON
# (and in `cordon local --log-file`'s file), not as plain text on the terminal.
logger = logs.logger


@dataclass
class LocalContext:
    """The parts of Lambda's context object that powertools and Chalice read."""

    function_name: str
    memory_limit_in_mb: int = 1024
    timeout_seconds: float = 60.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)
    invoked_function_arn: str = ""
    log_group_name: str = "local"
    log_stream_name: str = "local"
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return int(max(0.0, self.timeout_seconds - (time.monotonic() - self.started)) * 1000)


def lambda_sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """SQS messages as received, in the shape Lambda delivers them."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "dataType": value.get("DataType", "String"),
                        "stringListValues": [],
                        "binaryListValues": [],
                    }
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


class _Background:
    """Polls in a daemon thread until stopped, as an event source mapping keeps polling."""

    function_name: str
    _stop: threading.Event
    _thread: threading.Thread | None

    def _poll(self) -> int:
        raise NotImplementedError

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    if not self._poll():
                        self._stop.wait(0.2)
                except Exception:
                    logger.exception("poll failed", extra={"function": self.function_name})
                    self._stop.wait(1.0)

        self._thread = threading.Thread(target=loop, name=f"poll-{self.function_name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stop_soon()
        if self._thread:
            self._thread.join(timeout=5)

    def stop_soon(self) -> None:
        """Ask the loop to end after the poll in hand (a stack stops all its runners so, then
        waits for each: the waits overlap, and shutdown takes the longest poll, not the sum)."""
        self._stop.set()


class QueueRunner(_Background):
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        handler: Callable[[dict[str, Any], Any], Any],
        function_name: str,
        batch_size: int = 10,
        retry_delay_seconds: int = 1,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.handler = handler
        self.function_name = function_name
        self.batch_size = batch_size
        self.retry_delay_seconds = retry_delay_seconds
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        self.queue_arn = attributes["Attributes"]["QueueArn"]
        self.region = self.queue_arn.split(":")[3]
        self.batches = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self, wait_seconds: int = 0) -> int:
        """Receive one batch and run it through the handler; returns how many messages."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        event = lambda_sqs_event(messages, self.queue_arn, self.region)
        try:
            response = self.handler(event, LocalContext(self.function_name)) or {}
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        except Exception:
            logger.exception("handler failed the whole batch", extra={"size": len(messages)})
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        for message in messages:
            if message["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self.retry_delay_seconds,
                )
        self.batches += 1
        return len(messages)

    def drain(self, idle_polls: int = 3, timeout: float = 60.0) -> None:
        """Poll until the queue has been empty `idle_polls` times in a row (tests, replay)."""
        deadline = time.monotonic() + timeout
        idle = 0
        while idle < idle_polls and time.monotonic() < deadline:
            if self.poll_once():
                idle = 0
            else:
                idle += 1
                time.sleep(0.2)

    def _poll(self) -> int:
        return self.poll_once(wait_seconds=1)


def lambda_stream_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """One record of boto3's `GetRecords` as Lambda delivers it: JSON, so binary values
    (`B`, `BS`, within maps and lists too) as base64 text and the creation time as Unix
    seconds, with the stream's ARN and region."""
    stream = dict(record["dynamodb"])
    for name in ("Keys", "NewImage", "OldImage"):
        if name in stream:
            stream[name] = {k: _json_value(v) for k, v in stream[name].items()}
    created = stream.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        stream["ApproximateCreationDateTime"] = int(created.timestamp())
    return {**record, "dynamodb": stream, "eventSourceARN": stream_arn, "awsRegion": region}


def _json_value(value: dict[str, Any]) -> dict[str, Any]:
    ((kind, inner),) = value.items()
    if kind == "B":
        return {"B": base64.b64encode(inner).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(member).decode() for member in inner]}
    if kind == "M":
        return {"M": {k: _json_value(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_json_value(v) for v in inner]}
    return value


class StreamRunner(_Background):
    """A local stand-in for Lambda's DynamoDB Streams event source mapping: reads every shard
    of a table's stream from where it was when started (LATEST, as Chalice configures it) and
    hands the handler the event Lambda would (`lambda_stream_record`). As the deployed mapping
    is set up (ReportBatchItemFailures, MaximumRetryAttempts), a batch is retried from the
    first record the handler reports, or whole if it raises, at most `max_retries` times;
    then it is passed over, logged, as Lambda hands it to its on-failure destination."""

    def __init__(
        self,
        streams: Any,
        stream_arn: str,
        handler: Callable[[dict[str, Any], Any], Any],
        function_name: str,
        batch_size: int = 100,
        max_retries: int = 10,
    ) -> None:
        self.streams = streams
        self.stream_arn = stream_arn
        self.handler = handler
        self.function_name = function_name
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.region = stream_arn.split(":")[3]
        self._iterators: dict[str, str] = {}
        self._retries: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._discover()

    def _discover(self) -> None:
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"][
            "Shards"
        ]
        for shard in shards:
            if shard["ShardId"] not in self._iterators:
                self._iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
                )["ShardIterator"]

    def poll_once(self) -> int:
        moved = 0
        for shard, iterator in list(self._iterators.items()):
            if not iterator:
                continue
            response = self.streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
            records = response.get("Records", [])
            following = response.get("NextShardIterator", "")
            if records:
                retry_from = self._run(records)
                if retry_from is not None:
                    # Lambda's checkpoint: the records before the first failure are done.
                    following = self._iterator_at(shard, iterator, retry_from)
                moved += len(records)
            self._iterators[shard] = following
        return moved

    def _run(self, records: list[dict[str, Any]]) -> str | None:
        """The sequence number to read again from, or None when the batch is done."""
        event = {
            "Records": [lambda_stream_record(r, self.stream_arn, self.region) for r in records]
        }
        first = records[0]["dynamodb"]["SequenceNumber"]
        try:
            response = self.handler(event, LocalContext(self.function_name)) or {}
            failures = [f.get("itemIdentifier") for f in response.get("batchItemFailures", [])]
        except Exception:
            logger.exception("stream handler failed; the batch will be retried")
            failures = [first]
        if not failures:
            self._retries.pop(first, None)
            return None
        # An empty or unknown identifier fails the whole batch, as Lambda reads it.
        known = {r["dynamodb"]["SequenceNumber"] for r in records}
        retry_from = min(failures, key=int) if set(failures) <= known else first
        attempts = self._retries.pop(retry_from, 0) + 1
        if attempts > self.max_retries:
            logger.error(
                "stream records given up after retries (Lambda: the on-failure destination)",
                extra={"function": self.function_name, "from_sequence": retry_from},
            )
            return None
        self._retries[retry_from] = attempts
        return retry_from

    def _iterator_at(self, shard: str, iterator: str, sequence: str) -> str:
        try:
            return self.streams.get_shard_iterator(
                StreamArn=self.stream_arn,
                ShardId=shard,
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                SequenceNumber=sequence,
            )["ShardIterator"]
        except Exception:
            logger.exception("no iterator at the failed record; the batch is read again")
            return iterator

    def _poll(self) -> int:
        return self.poll_once()
