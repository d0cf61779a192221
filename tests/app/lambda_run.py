"""One invocation of the ingest Lambda under moto, in a process of its own, so that a test can
read everything the function writes to stdout and stderr (`test_handler_logs.py`).

Run as `python -m tests.app.lambda_run`. It uploads two objects to a tenant's bucket, adds an
S3 test event, a notification with no records and an unreadable body to the ingest queue, and
hands all of them to `app.ingest` in one Lambda SQS event. It prints nothing itself: every
line it leaves is the function's.
"""

from __future__ import annotations

import logging
import sys

# Lambda's Python runtime puts its own plain-text handler on the root logger before it imports
# the function's module: a record that propagates to the root is written twice there.
_root_handler = logging.StreamHandler(sys.stdout)
_root_handler.setFormatter(logging.Formatter("[%(levelname)s]\t%(message)s"))
logging.getLogger().addHandler(_root_handler)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

import app as chalice_app  # noqa: E402
from chalicelib.models import Policy  # noqa: E402
from cordon_cli.bootstrap import bootstrap_into_environment  # noqa: E402
from cordon_cli.operations import add_tenant  # noqa: E402
from cordon_cli.runner import LocalContext, lambda_sqs_event  # noqa: E402
from tests.events import load_body  # noqa: E402

BUCKET = "tenant-a-uploads"
KEYS = ("first.txt", "second.txt")


def main() -> None:
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        stack = bootstrap_into_environment(session)
        chalice_app.reset()
        cordon = chalice_app.cordon()
        add_tenant(cordon, "tenant-a", [BUCKET], policy=Policy(), create_buckets=True)
        queue = stack.refs["IngestQueue"]
        sqs = cordon.sqs
        sqs.purge_queue(QueueUrl=queue)  # S3's own test event, sent when wired
        for key in KEYS:
            cordon.s3.put_object(Bucket=BUCKET, Key=key, Body=f"{key}\n".encode())
        sqs.send_message(QueueUrl=queue, MessageBody=load_body("s3-test-event.json"))
        sqs.send_message(QueueUrl=queue, MessageBody=load_body("s3-no-records.json"))
        sqs.send_message(QueueUrl=queue, MessageBody="not json")
        messages = sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"]
        )["Messages"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        event = lambda_sqs_event(messages, arn["Attributes"]["QueueArn"], "us-east-1")
        chalice_app.ingest(event, LocalContext("ingest"))


if __name__ == "__main__":
    main()
