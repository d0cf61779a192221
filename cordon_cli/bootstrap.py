"""Create the resources of `infra/resources.json` through the services' own APIs.

The local stack does not go through moto's CloudFormation: it ignores S3 versioning, Object
Lock and notifications and lacks SNS subscriptions. This reads the same template `make
package` deploys, resolves its intrinsics (Ref, Fn::GetAtt, Fn::Sub) and makes the API calls
CloudFormation would, so the local resources are the deployed ones, defined once.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "resources.json"
ENVIRONMENT_KEY = "Cordon::Environment"
# Dependencies first: dead-letter queues before the queues that name them, queues before
# the subscriptions, rules and policies that point at them.
ORDER = (
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
    "AWS::Events::Rule",
    "AWS::SNS::Subscription",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::IAM::Role",
    "AWS::StepFunctions::StateMachine",
)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return json.loads(path.read_text())


@dataclass
class Stack:
    """What was created: physical names and attributes by logical id."""

    account: str
    region: str
    refs: dict[str, str] = field(default_factory=dict)
    attrs: dict[tuple[str, str], str] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return self._ref(value["Ref"])
        if set(value) == {"Fn::GetAtt"}:
            logical, attribute = value["Fn::GetAtt"]
            return self.attrs[(logical, attribute)]
        if set(value) == {"Fn::Sub"}:
            return re.sub(r"\$\{([^}]+)\}", lambda m: self._ref(m.group(1)), value["Fn::Sub"])
        return {k: self.resolve(v) for k, v in value.items()}

    def _ref(self, name: str) -> str:
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
        }
        return pseudo.get(name) or self.refs[name]

    def environment(self, template: dict[str, Any]) -> dict[str, str]:
        """The settings' environment variables, resolved against this stack."""
        return self.resolve(template["Metadata"][ENVIRONMENT_KEY])


def bootstrap(session: Any, template: dict[str, Any] | None = None) -> Stack:
    template = template or load_template()
    region = session.region_name
    account = session.client("sts").get_caller_identity()["Account"]
    stack = Stack(account, region)
    resources = template["Resources"]
    creators: dict[str, Callable[[Any, Stack, str, dict[str, Any]], None]] = {
        "AWS::DynamoDB::Table": _table,
        "AWS::S3::Bucket": _bucket,
        "AWS::SQS::Queue": _queue,
        "AWS::SNS::Topic": _topic,
        "AWS::Events::Rule": _rule,
        "AWS::SNS::Subscription": _subscription,
        "AWS::SQS::QueuePolicy": _queue_policy,
        "AWS::SNS::TopicPolicy": _topic_policy,
        "AWS::IAM::Role": _role,
        "AWS::StepFunctions::StateMachine": _state_machine,
    }
    unknown = {r["Type"] for r in resources.values()} - set(creators)
    if unknown:
        raise ValueError(f"the local stack cannot create {sorted(unknown)}")
    pending = sorted(resources, key=lambda name: _rank(resources[name]))
    for logical in pending:
        resource = resources[logical]
        creators[resource["Type"]](session, stack, logical, resource.get("Properties", {}))
    return stack


def _rank(resource: dict[str, Any]) -> tuple[int, int]:
    redrive = "RedrivePolicy" in resource.get("Properties", {})
    return ORDER.index(resource["Type"]), int(redrive)


def _table(session: Any, stack: Stack, logical: str, props: dict[str, Any]) -> None:
    client = session.client("dynamodb")
    name = stack.resolve(props["TableName"])
    kwargs: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if "GlobalSecondaryIndexes" in props:
        kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if "StreamSpecification" in props:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    description = client.create_table(**kwargs)["TableDescription"]
    if "TimeToLiveSpecification" in props:
        client.update_time_to_live(
            TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"]
        )
    stack.refs[logical] = name
    stack.attrs[(logical, "Arn")] = description["TableArn"]
    if "LatestStreamArn" in description:
        stack.attrs[(logical, "StreamArn")] = description["LatestStreamArn"]


def _bucket(session: Any, stack: Stack, logical: str, props: dict[str, Any]) -> None:
    s3 = session.client("s3")
    name = stack.resolve(props["BucketName"])
    create: dict[str, Any] = {"Bucket": name}
    if stack.region != "us-east-1":
        create["CreateBucketConfiguration"] = {"LocationConstraint": stack.region}
    if props.get("ObjectLockEnabled"):
        create["ObjectLockEnabledForBucket"] = True
    s3.create_bucket(**create)
    if "VersioningConfiguration" in props:
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration=props["VersioningConfiguration"]
        )
    if "ObjectLockConfiguration" in props:
        s3.put_object_lock_configuration(
            Bucket=name, ObjectLockConfiguration=props["ObjectLockConfiguration"]
        )
    if "BucketEncryption" in props:
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    # CloudFormation's name for the API's ApplyServerSideEncryptionByDefault.
                    {
                        ("Apply" + k if k == "ServerSideEncryptionByDefault" else k): v
                        for k, v in rule.items()
                    }
                    for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                ]
            },
        )
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
    if "OwnershipControls" in props:
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
    stack.refs[logical] = name
    stack.attrs[(logical, "Arn")] = f"arn:aws:s3:::{name}"


def _queue(session: Any, stack: Stack, logical: str, props: dict[str, Any]) -> None:
    sqs = session.client("sqs")
    props = stack.resolve(props)
    name = props.pop("QueueName")
    attributes = {
        key: json.dumps(value)
        if isinstance(value, dict)
        else str(value).lower()
        if isinstance(value, bool)
        else str(value)
        for key, value in props.items()
    }
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    stack.refs[logical] = url
    stack.attrs[(logical, "Arn")] = arn
    stack.attrs[(logical, "QueueName")] = name
    stack.attrs[(logical, "QueueUrl")] = url


def _topic(session: Any, stack: Stack, logical: str, props: dict[str, Any]) -> None:
    arn = session.client("sns").create_topic(Name=stack.resolve(props["TopicName"]))["TopicArn"]
    stack.refs[logical] = arn
    stack.attrs[(logical, "TopicArn")] = arn
    stack.attrs[(logical, "TopicName")] = arn.rsplit(":", 1)[1]


def _rule(session: Any, stack: Stack, logical: str, props: dict[str, Any]) -> None:
    events = session.client("events")
    props = stack.resolve(props)
    arn = events.put_rule(
        Name=props["Name"],
        EventPattern=json.dumps(props["EventPattern"]),
        Description=props.get("Description", ""),
        State="ENABLED",
    )["RuleArn"]
    events.put_targets(Rule=props["Name"], Targets=props["Targets"])
    stack.refs[logical] = props["Name"]
    stack.attrs[(logical, "Arn")] = arn


def _subscription(session: Any, stack: Stack, logical: str, props: dict[str, Any]) -> None:
    props = stack.resolve(props)
    arn = session.client("sns").subscribe(
        TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"]
    )["SubscriptionArn"]
    stack.refs[logical] = arn


def _queue_policy(session: Any, stack: Stack, logical: str, props: dict[str, Any]) -> None:
    props = stack.resolve(props)
    for url in props["Queues"]:
        session.client("sqs").set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
        )


def _topic_policy(session: Any, stack: Stack, logical: str, props: dict[str, Any]) -> None:
    props = stack.resolve(props)
    for arn in props["Topics"]:
        session.client("sns").set_topic_attributes(
            TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(props["PolicyDocument"])
        )


def _role(session: Any, stack: Stack, logical: str, props: dict[str, Any]) -> None:
    props = stack.resolve(props)
    iam = session.client("iam")
    name = props.get("RoleName") or f"cordon-{logical}"
    arn = iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"])
    )["Role"]["Arn"]
    for policy in props.get("Policies", []):
        iam.put_role_policy(
            RoleName=name,
            PolicyName=policy["PolicyName"],
            PolicyDocument=json.dumps(policy["PolicyDocument"]),
        )
    stack.refs[logical] = name
    stack.attrs[(logical, "Arn")] = arn


def _state_machine(session: Any, stack: Stack, logical: str, props: dict[str, Any]) -> None:
    """Through the Step Functions API: moto executes only state machines created that way."""
    substitutions = stack.resolve(props.get("DefinitionSubstitutions", {}))
    definition = json.dumps(props["Definition"])
    for name, value in substitutions.items():
        definition = definition.replace("${" + name + "}", value)
    arn = session.client("stepfunctions").create_state_machine(
        name=props["StateMachineName"],
        definition=definition,
        roleArn=stack.resolve(props["RoleArn"]),
        type=props.get("StateMachineType", "STANDARD"),
    )["stateMachineArn"]
    stack.refs[logical] = arn
    stack.attrs[(logical, "Name")] = props["StateMachineName"]


def bootstrap_into_environment(session: Any) -> Stack:
    """Every resource, and this process's environment pointed at them (the functions'
    settings), for a bench or a one-off run in moto's in-process mock; the local stack and the
    tests set their environment their own way."""
    template = load_template()
    stack = bootstrap(session, template)
    os.environ.update(stack.environment(template))
    return stack
