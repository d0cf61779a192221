"""The environment of a bench that runs against moto in its own process: fake credentials, no
endpoint (moto intercepts), metrics off, numpy's BLAS on one thread as deployed. Import it
before boto3 and numpy."""

from __future__ import annotations

import os


def use_in_process_moto(log_level: str = "WARNING") -> None:
    # As deployed (.chalice/config.json): a Lambda below 1,769 MB has one vCPU, and on a shared
    # 2-core machine BLAS threads spinning on small matrices made hashing up to 30x slower.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": log_level,
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
