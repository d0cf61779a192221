"""SNS: JSON messages published on a topic, with the attributes subscriptions filter on."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class Topic:
    """One SNS topic (hash updates, tenant notices, reviewers' notices)."""

    def __init__(self, sns: Any, topic_arn: str) -> None:
        self.sns = sns
        self.topic_arn = topic_arn

    def publish(
        self, message: Mapping[str, Any], attributes: Mapping[str, str | list[str]]
    ) -> None:
        """Publish `message` as JSON; a list attribute goes as a String.Array, which a filter
        policy matches when any of its entries does."""
        self.sns.publish(
            TopicArn=self.topic_arn,
            Message=json.dumps(message),
            MessageAttributes={name: _attribute(value) for name, value in attributes.items()},
        )

    def notify(self, tenant_id: str, event: Mapping[str, Any]) -> None:
        """Tell one tenant (or its reviewers) of `event`: the tenant's id is in the message and
        in the attribute its subscription filters on."""
        self.publish({**event, "tenant_id": tenant_id}, {"tenant_id": tenant_id})


def _attribute(value: str | list[str]) -> dict[str, str]:
    if isinstance(value, str):
        return {"DataType": "String", "StringValue": value}
    return {"DataType": "String.Array", "StringValue": json.dumps(list(value))}
