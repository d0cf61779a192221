"""Write the template `chalice package --merge-template` merges into Chalice's SAM template.

    python infra/build_merge_template.py build/merge.json

The merge template holds every resource and output of `infra/resources.json`, plus overrides
of the resources Chalice generates. Chalice deep-merges dicts (ours win key by key, Chalice's
other keys stay) but replaces lists and scalars whole, so:

* the functions' `Environment.Variables` gain the resource names and keep the variables
  `.chalice/config.json` sets;
* the role's `Policies` list replaces the one Chalice's policy analysis generates (that one
  only sees boto3 calls made in app.py: logs and SQS, not our adapters' DynamoDB/S3 calls);
* the SQS event source keeps its `BatchSize` and gets partial batch responses, and its queue
  becomes `{"Fn::Sub": "${IngestQueue.Arn}"}` (Chalice writes a `Fn::Sub` of the queue's
  name, which gives CloudFormation no dependency on the queue it must wait for; the override
  must use the same `Fn::Sub` key, or the merge leaves both keys in one dict).

Chalice's logical IDs (from `chalice package` without a merge template, Chalice 1.34):
`DefaultRole`, `Ingest` (event `IngestSqsEventSource`), `APIHandler`, `RestAPI`,
`APIHandlerInvokePermission`, and the authorizer's `ReviewerKey` and
`ReviewerKeyInvokePermission` (named after its function, `app.reviewer_key`).
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

RESOURCES_JSON = Path(__file__).resolve().parent / "resources.json"
# Alarms and dashboard: they watch the functions Chalice generates, so they exist only in the
# merged template (the local stack, built from resources.json, has no CloudWatch).
MONITORING_JSON = Path(__file__).resolve().parent / "monitoring.json"

# Chalice's generated logical IDs.
ROLE = "DefaultRole"
ROLE_POLICY_NAME = "DefaultRolePolicy"
INGEST_FUNCTION = "Ingest"
INGEST_EVENT = "IngestSqsEventSource"
REVIEW_FUNCTION = "ReviewWorker"
HASH_UPDATES_FUNCTION = "HashUpdates"
HASH_UPDATES_EVENT = "HashUpdatesDynamodbEventSource"
# The hash table's own bookkeeping items (feed entries, counters, flood-guard windows,
# opinions): their stream records are no hash update, so Lambda filters them out before
# invoking (the handler drops them too, for the local stack, which has no filters).
BOOKKEEPING_TYPES = ["_feed", "_seq", "_flood", "_opinion"]
API_FUNCTION = "APIHandler"
# `app.sweep_decisions`, run every 5 minutes (Chalice's Schedule event `SweepDecisionsEvent`):
# it reads the cases table and answers task tokens, as the API's handler does.
SWEEP_FUNCTION = "SweepDecisions"
# The API's Lambda authorizer (`app.reviewer_key`): its own function, which reads the tenants
# table, so it needs the resource names as much as the API's handler.
AUTHORIZER_FUNCTION = "ReviewerKey"
# Each queue-fed function: its SQS event and the queue (our logical ID) it reads.
SQS_FUNCTIONS = {
    INGEST_FUNCTION: (INGEST_EVENT, "IngestQueue"),
    REVIEW_FUNCTION: ("ReviewWorkerSqsEventSource", "ReviewWorkQueue"),
}
API_REST_API = "RestAPI"
CHALICE_IDS = frozenset(
    {
        ROLE,
        INGEST_FUNCTION,
        REVIEW_FUNCTION,
        API_FUNCTION,
        SWEEP_FUNCTION,
        API_REST_API,
        "APIHandlerInvokePermission",
        AUTHORIZER_FUNCTION,
        f"{AUTHORIZER_FUNCTION}InvokePermission",
    }
)

# Our logical IDs, in resources.json.
TABLES = ("HashesTable", "CasesTable", "TenantsTable", "IdempotencyTable")
EVIDENCE_BUCKET = "EvidenceBucket"
INDEX_BUCKET = "IndexBucket"
INGEST_QUEUE = "IngestQueue"
INGEST_DLQ = "IngestDeadLetterQueue"

ENVIRONMENT_METADATA_KEY = "Cordon::Environment"

ROLE_DESCRIPTION = (
    "Cordon Lambdas. Tenant buckets are registered at run time, so object reads and deletes "
    "are allowed on arn:aws:s3:::*/* (every bucket); the evidence bucket is denied deletes "
    "explicitly and only gets Put/Get."
)

# What Lambda's SQS event source mapping does with the function's role.
QUEUE_CONSUMER_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
]

DYNAMODB_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
]


def _arn(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def _sub(template: str) -> dict[str, Any]:
    return {"Fn::Sub": template}


def environment(resources: dict[str, Any]) -> dict[str, Any]:
    """The variables that name this template's resources, for every function: declared once,
    in resources.json's Metadata, where the local stack reads them too."""
    return copy.deepcopy(resources["Metadata"][ENVIRONMENT_METADATA_KEY])


def role_policy(resources: dict[str, Any]) -> dict[str, Any]:
    """The Lambdas' least-privilege policy, on the resources of this template."""
    declared = resources["Resources"]
    tables = [name for name in TABLES if name in declared]
    table_arns: list[Any] = []
    for name in tables:
        table_arns.append(_arn(name))
        properties = declared[name].get("Properties", {})
        if properties.get("GlobalSecondaryIndexes") or properties.get("LocalSecondaryIndexes"):
            table_arns.append(_sub(f"${{{name}.Arn}}/index/*"))
    evidence_objects = _sub(f"${{{EVIDENCE_BUCKET}.Arn}}/*")
    statements = [
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": _sub(
                "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/*"
            ),
        },
        {
            "Sid": "Tables",
            "Effect": "Allow",
            "Action": DYNAMODB_ACTIONS,
            "Resource": table_arns,
        },
        {
            # Tenants' buckets are registered at run time: any bucket. HeadObject is GetObject.
            "Sid": "TenantObjects",
            "Effect": "Allow",
            # PutObject: a rejected takedown restores the object where it was. The tagging
            # actions: the upload's tags are kept in evidence and put back with it (S3 asks
            # PutObjectTagging of a PutObject that carries tags).
            "Action": [
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:GetObjectTagging",
                "s3:GetObjectVersionTagging",
                "s3:PutObject",
                "s3:PutObjectTagging",
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
            ],
            "Resource": _sub("arn:${AWS::Partition}:s3:::*/*"),
        },
        {
            # Without ListBucket S3 answers 403, not 404, for a missing object, and an object
            # deleted before Cordon read it would be retried instead of recorded as gone.
            "Sid": "TenantBucketsList",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
            "Resource": _sub("arn:${AWS::Partition}:s3:::*"),
        },
        {
            # GetObjectRetention: without it S3 leaves ObjectLockRetainUntilDate out of
            # GetObject, and the case records no retain-until date. The tagging actions: the
            # evidence copy carries the upload's tags, for a restore to put back.
            "Sid": "EvidenceWrite",
            "Effect": "Allow",
            "Action": [
                "s3:PutObject",
                "s3:PutObjectTagging",
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:GetObjectTagging",
                "s3:GetObjectVersionTagging",
                "s3:GetObjectRetention",
            ],
            "Resource": evidence_objects,
        },
        {
            # TenantObjects' wildcard would otherwise cover the evidence bucket too.
            "Sid": "EvidenceNoDelete",
            "Effect": "Deny",
            "Action": [
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
                "s3:BypassGovernanceRetention",
            ],
            "Resource": evidence_objects,
        },
        {
            "Sid": "IngestQueue",
            "Effect": "Allow",
            "Action": QUEUE_CONSUMER_ACTIONS,
            "Resource": _arn(INGEST_QUEUE),
        },
        {
            "Sid": "DeadLetterQueue",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"],
            "Resource": _arn(INGEST_DLQ),
        },
        *_review_statements(declared),
        *_sharing_statements(declared),
        *_index_statements(declared),
        {
            # DetectModerationLabels has no resource-level permissions.
            "Sid": "Moderation",
            "Effect": "Allow",
            "Action": ["rekognition:DetectModerationLabels"],
            "Resource": "*",
        },
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def _index_statements(declared: dict[str, Any]) -> list[dict[str, Any]]:
    """A cold container reads the PDQ index snapshot; `cordon index snapshot`, run by an
    operator, writes it (so the Lambdas get no PutObject)."""
    if INDEX_BUCKET not in declared:
        return []
    return [
        {
            "Sid": "IndexSnapshots",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": _sub(f"${{{INDEX_BUCKET}.Arn}}/*"),
        }
    ]


def _sharing_statements(declared: dict[str, Any]) -> list[dict[str, Any]]:
    """Read the hash table's stream, publish hash updates for the tenants subscribed."""
    if "HashUpdatesTopic" not in declared:
        return []
    return [
        {
            "Sid": "HashTableStream",
            "Effect": "Allow",
            "Action": [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            ],
            "Resource": {"Fn::GetAtt": ["HashesTable", "StreamArn"]},
        },
        {
            "Sid": "HashUpdates",
            "Effect": "Allow",
            "Action": ["sns:Publish"],
            "Resource": {"Ref": "HashUpdatesTopic"},
        },
        {
            "Sid": "SharingDeadLetters",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"],
            "Resource": [_arn("WebhookDeadLetterQueue"), _arn("HashUpdatesDeadLetterQueue")],
        },
    ]


def _review_statements(declared: dict[str, Any]) -> list[dict[str, Any]]:
    """The review workflow: start it, answer its task tokens, consume its work queue."""
    if "ReviewStateMachine" not in declared:
        return []
    executions = _sub(
        "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:"
        "${ReviewStateMachine.Name}:*"
    )
    return [
        {
            "Sid": "ReviewWorkflow",
            "Effect": "Allow",
            "Action": ["states:StartExecution"],
            "Resource": {"Ref": "ReviewStateMachine"},
        },
        {
            "Sid": "ReviewExecutions",
            "Effect": "Allow",
            "Action": ["states:DescribeExecution"],
            "Resource": executions,
        },
        {
            # Task tokens name no resource: SendTask* cannot be scoped by ARN.
            "Sid": "ReviewTaskTokens",
            "Effect": "Allow",
            "Action": ["states:SendTaskSuccess", "states:SendTaskFailure"],
            "Resource": "*",
        },
        {
            "Sid": "ReviewWorkQueue",
            "Effect": "Allow",
            "Action": QUEUE_CONSUMER_ACTIONS,
            "Resource": _arn("ReviewWorkQueue"),
        },
        {
            "Sid": "TenantNotices",
            "Effect": "Allow",
            "Action": ["sns:Publish"],
            "Resource": {"Ref": "TenantNoticesTopic"},
        },
        {
            # The review worker tells reviewers a case waits (not a workflow state: billed).
            "Sid": "ReviewerNotices",
            "Effect": "Allow",
            "Action": ["sns:Publish"],
            "Resource": {"Ref": "ReviewTopic"},
        },
    ]


# API Gateway's own answers, for requests it does not pass to a function. By default a path or
# method the API does not have answers 403 "Missing Authentication Token", and, when the
# request carries an Authorization header, a SigV4 parse error that quotes the header back:
# the reviewer's bearer key. Here such a request answers a plain 404. No route uses IAM
# (SigV4) auth, so a signature error, too, can only be a request for a route that is not
# there. Every other 4xx of the gateway's keeps its status and names only its type, from a
# fixed list: never `$context.error.message`, which may quote the request.
NOT_FOUND_BODY = json.dumps({"error": "not found"})
GATEWAY_RESPONSES = {
    **{
        kind: {"statusCode": "404", "responseTemplates": {"application/json": NOT_FOUND_BODY}}
        for kind in ("MISSING_AUTHENTICATION_TOKEN", "INVALID_SIGNATURE")
    },
    "DEFAULT_4XX": {
        "responseTemplates": {"application/json": '{"error": "$context.error.responseType"}'}
    },
}


def overrides(resources: dict[str, Any]) -> dict[str, Any]:
    """What replaces or extends the resources Chalice generates."""
    variables = environment(resources)
    return {
        ROLE: {
            "Properties": {
                "Description": ROLE_DESCRIPTION,
                "Policies": [
                    {"PolicyName": ROLE_POLICY_NAME, "PolicyDocument": role_policy(resources)}
                ],
            }
        },
        **{
            function: {
                "Properties": {
                    "Environment": {"Variables": copy.deepcopy(variables)},
                    "Events": {
                        event: {
                            "Properties": {
                                # Chalice's value is {"Fn::Sub": "arn:...:QUEUE"}: a dict,
                                # so it is deep-merged; only the same key replaces it.
                                "Queue": _sub(f"${{{queue}.Arn}}"),
                                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                                "MaximumBatchingWindowInSeconds": 1,
                            }
                        }
                    },
                }
            }
            for function, (event, queue) in SQS_FUNCTIONS.items()
            if queue in resources["Resources"]
        },
        HASH_UPDATES_FUNCTION: {
            "Properties": {
                "Environment": {"Variables": copy.deepcopy(variables)},
                "Events": {
                    HASH_UPDATES_EVENT: {
                        "Properties": {
                            # Chalice writes the placeholder ARN it was given at build time.
                            "Stream": {"Fn::GetAtt": ["HashesTable", "StreamArn"]},
                            # The handler names the first record it could not publish, so
                            # Lambda retries from there, not the whole batch (a record that
                            # does not read is parked by the handler, never retried).
                            "FunctionResponseTypes": ["ReportBatchItemFailures"],
                            "MaximumRetryAttempts": 10,
                            "BisectBatchOnFunctionError": True,
                            # A batch that still fails is not dropped unseen: its shard and
                            # sequence numbers wait here (the delta feed has every change).
                            "DestinationConfig": {
                                "OnFailure": {
                                    "Type": "SQS",
                                    "Destination": _arn("HashUpdatesDeadLetterQueue"),
                                }
                            },
                            "FilterCriteria": {
                                "Filters": [
                                    {
                                        "Pattern": json.dumps(
                                            {
                                                "dynamodb": {
                                                    "Keys": {
                                                        "signal_type": {
                                                            "S": [
                                                                {"anything-but": BOOKKEEPING_TYPES}
                                                            ]
                                                        }
                                                    }
                                                }
                                            }
                                        )
                                    }
                                ]
                            },
                        }
                    }
                },
            }
        },
        API_FUNCTION: {
            "Properties": {"Environment": {"Variables": copy.deepcopy(variables)}},
        },
        SWEEP_FUNCTION: {
            "Properties": {"Environment": {"Variables": copy.deepcopy(variables)}},
        },
        AUTHORIZER_FUNCTION: {
            "Properties": {"Environment": {"Variables": copy.deepcopy(variables)}},
        },
        # Deep-merged into the OpenAPI body Chalice generates, so the gateway responses are
        # part of the API's deployment (a separate AWS::ApiGateway::GatewayResponse would need
        # a redeployment to reach the stage).
        API_REST_API: {
            "Properties": {
                "DefinitionBody": {
                    "x-amazon-apigateway-gateway-responses": copy.deepcopy(GATEWAY_RESPONSES)
                }
            }
        },
    }


def build(resources: dict[str, Any], monitoring: dict[str, Any] | None = None) -> dict[str, Any]:
    """The merge template: resources.json's and monitoring.json's resources and outputs, plus
    the overrides."""
    monitoring = monitoring or {}
    declared = resources.get("Resources", {})
    watching = monitoring.get("Resources", {})
    clash = (CHALICE_IDS | declared.keys()) & watching.keys() | CHALICE_IDS & declared.keys()
    if clash:
        raise ValueError(f"logical IDs declared twice: {sorted(clash)}")
    return {
        "Resources": {**copy.deepcopy(declared), **copy.deepcopy(watching), **overrides(resources)},
        "Outputs": {
            **copy.deepcopy(resources.get("Outputs", {})),
            **copy.deepcopy(monitoring.get("Outputs", {})),
        },
    }


def load_resources(path: Path = RESOURCES_JSON) -> dict[str, Any]:
    return json.loads(path.read_text())


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} OUTPUT.json", file=sys.stderr)
        return 2
    output = Path(argv[1])
    output.parent.mkdir(parents=True, exist_ok=True)
    merged = build(load_resources(), load_resources(MONITORING_JSON))
    output.write_text(json.dumps(merged, indent=2) + "\n")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
