"""The local stack: moto's server on 127.0.0.1, every resource of `infra/`, the event-source
runner feeding the Chalice handlers, and the REST API. Nothing is stubbed: the handlers, the
adapters and the boto3 calls are the deployed ones, pointed at moto by `AWS_ENDPOINT_URL`.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import urllib.request
from pathlib import Path
from typing import Any

import boto3

from cordon_cli.bootstrap import Stack, bootstrap, load_template
from cordon_cli.runner import QueueRunner, StreamRunner

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def client_environment(endpoint: str) -> dict[str, str]:
    """What a process needs to talk to the local stack instead of AWS."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "MOTO_PORT": endpoint.rsplit(":", 1)[1],
        "POWERTOOLS_METRICS_DISABLED": "true",
    }


class LocalStack:
    def __init__(
        self,
        port: int | None = None,
        api_port: int | None = None,
        serve_api: bool = True,
        log_file: Path | None = None,
    ) -> None:
        self.log_file = log_file
        self.port = port or free_port()
        self.api_port = api_port or free_port()
        self.serve_api = serve_api
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.stack: Stack | None = None
        self.runner: QueueRunner | None = None
        self.runners: list[QueueRunner | StreamRunner] = []
        self._moto: Any = None
        self._api: Any = None
        self._saved_env: dict[str, str | None] = {}

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> LocalStack:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        if self.log_file:
            self._log_to(self.log_file)
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._moto.start()
        self._set_env(client_environment(self.endpoint))
        self._configure_moto()
        template = load_template()
        self.stack = bootstrap(self.session(), template)
        self._set_env(self.stack.environment(template))
        import app as chalice_app

        chalice_app.reset()
        sqs = self.session().client("sqs")
        # One runner per queue the Chalice app subscribes to, as Lambda has one event source
        # mapping per function.
        self.runners = [
            QueueRunner(sqs, self.stack.refs["IngestQueue"], chalice_app.ingest, "ingest"),
            QueueRunner(
                sqs, self.stack.refs["ReviewWorkQueue"], chalice_app.review_worker, "review_worker"
            ),
        ]
        self.runner = self.runners[0]
        self.runners.append(
            StreamRunner(
                self.session().client("dynamodbstreams"),
                self.stack.attrs[("HashesTable", "StreamArn")],
                chalice_app.hash_updates,
                "hash_updates",
            )
        )
        for runner in self.runners:
            runner.start()
        if self.serve_api:
            self._start_api(chalice_app.app)
        return self

    def stop(self) -> None:
        for runner in self.runners:
            runner.stop_soon()
        for runner in self.runners:
            runner.stop()
        if self._api:
            self._api.server.shutdown()
        if self._moto:
            self._moto.stop()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers ---------------------------------------------------------------------------
    def session(self) -> boto3.session.Session:
        return boto3.session.Session(region_name=REGION)

    def environment(self) -> dict[str, str]:
        """Variables another shell exports to use this stack (`cordon local` prints them)."""
        assert self.stack is not None
        return {**client_environment(self.endpoint), **self.stack.environment(load_template())}

    def _set_env(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    def _log_to(self, path: Path) -> None:
        """Send the handlers' JSON logs to a file, so the terminal shows what the user asked."""
        import app as chalice_app  # creates the "cordon" logger and its handler

        path.parent.mkdir(parents=True, exist_ok=True)
        cordon_logger = logging.getLogger(chalice_app.logger.name)
        cordon_logger.propagate = False
        for handler in cordon_logger.handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(path.open("a"))

    def _configure_moto(self) -> None:
        # Step Functions definitions really execute (the review workflow relies on it).
        request = urllib.request.Request(
            f"{self.endpoint}/moto-api/config",
            data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
            method="POST",
        )
        urllib.request.urlopen(request, timeout=10).close()

    def _start_api(self, chalice_app: Any) -> None:
        from chalice.config import Config
        from chalice.local import create_local_server

        config = Config.create(chalice_app=chalice_app, chalice_stage="dev")
        self._api = create_local_server(chalice_app, config, "127.0.0.1", self.api_port)
        threading.Thread(target=self._api.serve_forever, name="api", daemon=True).start()
