"""Cordon's one parent logger (powertools, JSON). Modules log through child loggers of it,
which need it to exist first: importing this module makes sure, in Lambda and in the CLI.

Logs go to stderr: in Lambda both streams reach CloudWatch, and on the command line stdout is
kept for the command's own output (`--json`). One JSON line a record, level INFO unless
POWERTOOLS_LOG_LEVEL (or Lambda's own log level control) sets another. Chalice's app logger has
the same name, "cordon": `app.py` tells Chalice not to configure it (it would set ERROR and add
a plain-text stdout handler), so that this module's setup is the only one."""

from __future__ import annotations

import logging
import sys

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

logger = Logger(service="cordon", logger_handler=logging.StreamHandler(sys.stderr))

# Keys that are the same on every line of a log stream (its log group names the function, and
# Lambda's REPORT line tells a cold start), and the code location (errors carry their trace):
# the ingest's lines, one or more an object, are billed by the byte, so it drops them after
# the Lambda context has added them.
DROPPED_KEYS = ["cold_start", "function_name", "function_memory_size", "function_arn", "location"]


def drop_stream_constants() -> None:
    logger.remove_keys(DROPPED_KEYS)


def count(name: str, service: str) -> None:
    """One event worth an alarm, as an EMF metric (namespace Cordon) in the log at once: for
    events outside the ingest batch's own metrics (held hashes, breached deadlines)."""
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=1,
        namespace="Cordon",
        default_dimensions={"service": service},
    ):
        pass
