"""Cordon's one parent logger (powertools, JSON). Modules log through child loggers of it,
which need it to exist first: importing this module makes sure, in Lambda and in the CLI.

Logs go to stderr: in Lambda both streams reach CloudWatch, and on the command line stdout is
kept for the command's own output (`--json`)."""

from __future__ import annotations

import logging
import sys

from aws_lambda_powertools import Logger

logger = Logger(service="cordon", logger_handler=logging.StreamHandler(sys.stderr))
