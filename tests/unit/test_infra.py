"""The deployment template: the merge template `make package` feeds to `chalice package`, the
resources it declares, the template Chalice packages from it, and the package size check. No
network: Chalice's packager runs in process, without its pip-and-zip step."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from chalicelib.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"

REQUIRED_ENVIRONMENT = {
    "CORDON_HASHES_TABLE": {"Ref": "HashesTable"},
    "CORDON_CASES_TABLE": {"Ref": "CasesTable"},
    "CORDON_TENANTS_TABLE": {"Ref": "TenantsTable"},
    "CORDON_IDEMPOTENCY_TABLE": {"Ref": "IdempotencyTable"},
    "CORDON_EVIDENCE_BUCKET": {"Ref": "EvidenceBucket"},
    "CORDON_INGEST_QUEUE": {"Fn::GetAtt": ["IngestQueue", "QueueName"]},
    "CORDON_INGEST_DLQ": {"Fn::GetAtt": ["IngestDeadLetterQueue", "QueueName"]},
}
TABLES = ("HashesTable", "CasesTable", "TenantsTable", "IdempotencyTable")


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"cordon_infra_{name}", INFRA / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


builder = _load("build_merge_template")
size_check = _load("check_package_size")


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return json.loads((INFRA / "resources.json").read_text())


@pytest.fixture(scope="module")
def merge(resources: dict[str, Any]) -> dict[str, Any]:
    return builder.build(copy.deepcopy(resources))


def _statements(merge: dict[str, Any]) -> list[dict[str, Any]]:
    (policy,) = merge["Resources"]["DefaultRole"]["Properties"]["Policies"]
    return policy["PolicyDocument"]["Statement"]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions


def _resources(statement: dict[str, Any]) -> list[Any]:
    found = statement["Resource"]
    return found if isinstance(found, list) else [found]


def _allowed(merge: dict[str, Any], action: str) -> list[Any]:
    return [
        resource
        for statement in _statements(merge)
        if statement["Effect"] == "Allow" and action in _actions(statement)
        for resource in _resources(statement)
    ]


def _denied(merge: dict[str, Any], action: str) -> list[Any]:
    return [
        resource
        for statement in _statements(merge)
        if statement["Effect"] == "Deny" and action in _actions(statement)
        for resource in _resources(statement)
    ]


# -- the merge template ------------------------------------------------------------------


def test_merge_template_keeps_every_resource_and_output(resources, merge):
    for logical_id, resource in resources["Resources"].items():
        assert merge["Resources"][logical_id] == resource, logical_id
    assert merge["Outputs"] == resources["Outputs"]


def test_builder_does_not_modify_its_input(resources):
    before = copy.deepcopy(resources)
    builder.build(resources)
    assert resources == before


def test_merge_template_overrides_only_chalices_resources(resources, merge):
    extra = set(merge["Resources"]) - set(resources["Resources"])
    assert extra == {
        "DefaultRole",
        "Ingest",
        "ReviewWorker",
        "HashUpdates",
        "APIHandler",
        "SweepDecisions",
        "ReviewerKey",
        "RestAPI",
    }


def test_main_writes_the_merge_template(tmp_path, resources):
    output = tmp_path / "nested" / "merge.json"
    assert builder.main(["build_merge_template.py", str(output)]) == 0
    monitoring = builder.load_resources(builder.MONITORING_JSON)
    assert json.loads(output.read_text()) == builder.build(resources, monitoring)


def test_alarms_watch_the_dead_letters_the_backlog_errors_and_deadlines(resources):
    monitoring = builder.load_resources(builder.MONITORING_JSON)
    merged = builder.build(resources, monitoring)["Resources"]
    alarms = {
        k: v["Properties"] for k, v in merged.items() if v.get("Type") == "AWS::CloudWatch::Alarm"
    }
    metrics = {p.get("MetricName") for p in alarms.values()}
    assert {
        "ApproximateNumberOfMessagesVisible",
        "ApproximateAgeOfOldestMessage",
        "ObjectsFailed",
        "ReviewDeadlineBreached",
    } <= metrics
    error_rate = merged["IngestErrorRateAlarm"]["Properties"]["Metrics"]
    assert {m["Id"] for m in error_rate} == {"errors", "invocations", "rate"}
    # Every alarm points the engineer at its runbook section, which exists.
    runbook = (builder.RESOURCES_JSON.parent.parent / "docs" / "runbook.md").read_text()
    for name, props in alarms.items():
        anchor = props["AlarmDescription"].split("docs/runbook.md#", 1)[1]
        assert f"## {anchor}" in runbook.replace("`", ""), name
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert "Dashboard" in merged


def test_monitoring_and_resources_do_not_share_logical_ids(resources):
    monitoring = builder.load_resources(builder.MONITORING_JSON)
    with pytest.raises(ValueError, match="declared twice"):
        builder.build(resources, {"Resources": {"IngestQueue": {}}})
    assert builder.build(resources, monitoring)


@pytest.mark.parametrize("function", ["Ingest", "APIHandler"])
def test_functions_get_the_resource_names(merge, function):
    variables = merge["Resources"][function]["Properties"]["Environment"]["Variables"]
    for name, value in REQUIRED_ENVIRONMENT.items():
        assert variables[name] == value, name


def test_ingest_reports_batch_item_failures_from_the_templates_queue(merge):
    events = merge["Resources"]["Ingest"]["Properties"]["Events"]
    source = events["IngestSqsEventSource"]["Properties"]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["MaximumBatchingWindowInSeconds"] == 1
    # Chalice's value is a Fn::Sub too: the same key replaces it in the deep merge.
    assert source["Queue"] == {"Fn::Sub": "${IngestQueue.Arn}"}


def test_every_environment_variable_is_a_setting(merge):
    """Each variable the template sets is one Settings.from_env reads (a typo would be
    silently ignored, and the Lambda would talk to the default names)."""
    defaults = Settings.from_env({})
    assert defaults == Settings()
    names = set()
    for function in ("Ingest", "APIHandler"):
        names |= set(merge["Resources"][function]["Properties"]["Environment"]["Variables"])
    assert set(REQUIRED_ENVIRONMENT) <= names
    for name in sorted(names):
        assert Settings.from_env({name: "sentinel-value"}) != defaults, name


def test_every_chalice_config_variable_is_read():
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    defaults = Settings.from_env({})
    cordon = [name for name in config["environment_variables"] if name.startswith("CORDON_")]
    assert cordon
    for name in cordon:
        assert Settings.from_env({name: "7"}) != defaults, name


# -- the role ----------------------------------------------------------------------------


def test_role_reaches_every_table_and_its_indexes(resources, merge):
    actions = [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:Scan",
    ]
    for action in actions:
        allowed = _allowed(merge, action)
        for table in TABLES:
            assert {"Fn::GetAtt": [table, "Arn"]} in allowed, (action, table)
            if resources["Resources"][table]["Properties"].get("GlobalSecondaryIndexes"):
                assert {"Fn::Sub": f"${{{table}.Arn}}/index/*"} in allowed, (action, table)


def test_role_writes_evidence_but_never_deletes_it(merge):
    evidence = {"Fn::Sub": "${EvidenceBucket.Arn}/*"}
    for action in ("s3:PutObject", "s3:GetObject", "s3:GetObjectVersion"):
        assert evidence in _allowed(merge, action), action
    for action in ("s3:DeleteObject", "s3:DeleteObjectVersion"):
        assert evidence not in _allowed(merge, action)
        assert evidence in _denied(merge, action), action


def test_role_reads_and_deletes_tenant_objects(merge):
    tenants = {"Fn::Sub": "arn:${AWS::Partition}:s3:::*/*"}
    for action in (
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
    ):
        assert tenants in _allowed(merge, action), action


def test_role_reads_and_writes_the_tags_an_upload_carries_into_evidence_and_back(merge):
    # moto checks no IAM: without these S3 refuses the tag reads and a PutObject with tags.
    tenants = {"Fn::Sub": "arn:${AWS::Partition}:s3:::*/*"}
    evidence = {"Fn::Sub": "${EvidenceBucket.Arn}/*"}
    for action in ("s3:GetObjectTagging", "s3:GetObjectVersionTagging", "s3:PutObjectTagging"):
        assert tenants in _allowed(merge, action), action
        assert evidence in _allowed(merge, action), action


def test_role_uses_the_queues_and_rekognition(merge):
    ingest = {"Fn::GetAtt": ["IngestQueue", "Arn"]}
    review_work = {"Fn::GetAtt": ["ReviewWorkQueue", "Arn"]}
    dlq = {"Fn::GetAtt": ["IngestDeadLetterQueue", "Arn"]}
    webhook_dlq = {"Fn::GetAtt": ["WebhookDeadLetterQueue", "Arn"]}
    updates_dlq = {"Fn::GetAtt": ["HashUpdatesDeadLetterQueue", "Arn"]}
    for action in (
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
    ):
        assert _allowed(merge, action) == [ingest, review_work], action
    for action in ("sqs:SendMessage", "sqs:GetQueueUrl"):
        assert _allowed(merge, action) == [dlq, webhook_dlq, updates_dlq], action
    assert _allowed(merge, "rekognition:DetectModerationLabels") == ["*"]
    assert _allowed(merge, "logs:PutLogEvents")


def test_role_has_no_wildcard_actions(merge):
    for statement in _statements(merge):
        for action in _actions(statement):
            assert "*" not in action, action
        if statement["Effect"] == "Allow" and _resources(statement) == ["*"]:
            # Neither names a resource: moderation labels, and task tokens.
            assert _actions(statement) in (
                ["rekognition:DetectModerationLabels"],
                ["states:SendTaskSuccess", "states:SendTaskFailure"],
            )


# -- Chalice's merge, on a template shaped like the one Chalice 1.34 generates ----------


def _chalice_shaped_template() -> dict[str, Any]:
    function = {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "Runtime": "python3.11",
            "Handler": "app.app",
            "CodeUri": "./deployment.zip",
            "Timeout": 60,
            "MemorySize": 1024,
            "Environment": {
                "Variables": {"POWERTOOLS_SERVICE_NAME": "cordon", "CORDON_MAX_RECEIVES": "3"}
            },
            "Role": {"Fn::GetAtt": ["DefaultRole", "Arn"]},
        },
    }
    ingest = copy.deepcopy(function)
    ingest["Properties"]["Handler"] = "app.ingest"
    ingest["Properties"]["Events"] = {
        "IngestSqsEventSource": {
            "Type": "SQS",
            "Properties": {
                "Queue": {
                    "Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:"
                    "${AWS::AccountId}:cordon-ingest"
                },
                "BatchSize": 20,
                "MaximumBatchingWindowInSeconds": 0,
            },
        }
    }
    review_worker = copy.deepcopy(ingest)
    review_worker["Properties"]["Handler"] = "app.review_worker"
    review_worker["Properties"]["Events"] = {
        "ReviewWorkerSqsEventSource": {
            "Type": "SQS",
            "Properties": {
                "Queue": {
                    "Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:"
                    "${AWS::AccountId}:cordon-review-work"
                },
                "BatchSize": 10,
            },
        }
    }
    hash_updates = copy.deepcopy(function)
    hash_updates["Properties"]["Handler"] = "app.hash_updates"
    hash_updates["Properties"]["Events"] = {
        "HashUpdatesDynamodbEventSource": {
            "Type": "DynamoDB",
            "Properties": {
                "Stream": "arn:aws:dynamodb:us-east-1:123456789012:table/cordon-hashes/stream/x",
                "BatchSize": 100,
                "StartingPosition": "LATEST",
            },
        }
    }
    authorizer = copy.deepcopy(function)
    authorizer["Properties"]["Handler"] = "app.reviewer_key"
    sweep = copy.deepcopy(function)
    sweep["Properties"]["Handler"] = "app.sweep_decisions"
    sweep["Properties"]["Events"] = {
        "SweepDecisionsEvent": {"Type": "Schedule", "Properties": {"Schedule": "rate(5 minutes)"}}
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "DefaultRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "sts:AssumeRole",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                            }
                        ],
                    },
                    "Policies": [
                        {
                            "PolicyName": "DefaultRolePolicy",
                            "PolicyDocument": {
                                "Version": "2012-10-17",
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Action": ["sqs:ReceiveMessage"],
                                        "Resource": "*",
                                    }
                                ],
                            },
                        }
                    ],
                },
            },
            "Ingest": ingest,
            "ReviewWorker": review_worker,
            "HashUpdates": hash_updates,
            "APIHandler": function,
            "ReviewerKey": authorizer,
            "SweepDecisions": sweep,
            "RestAPI": {
                "Type": "AWS::Serverless::Api",
                "Properties": {
                    "EndpointConfiguration": "EDGE",
                    "StageName": "api",
                    "DefinitionBody": {
                        "swagger": "2.0",
                        "info": {"version": "1.0", "title": "cordon"},
                        "paths": {},
                    },
                },
            },
        },
    }


@pytest.fixture(scope="module")
def merged(merge: dict[str, Any]) -> dict[str, Any]:
    from chalice.package import TemplateDeepMerger

    return TemplateDeepMerger().merge(copy.deepcopy(merge), _chalice_shaped_template())


def test_chalice_merge_keeps_config_variables_and_adds_ours(merged):
    for function in ("Ingest", "APIHandler"):
        variables = merged["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert variables["POWERTOOLS_SERVICE_NAME"] == "cordon"
        assert variables["CORDON_MAX_RECEIVES"] == "3"
        for name, value in REQUIRED_ENVIRONMENT.items():
            assert variables[name] == value


def test_chalice_merge_replaces_the_queue_and_the_policy(merged):
    source = merged["Resources"]["Ingest"]["Properties"]["Events"]["IngestSqsEventSource"]
    assert source["Properties"]["Queue"] == {"Fn::Sub": "${IngestQueue.Arn}"}
    assert source["Properties"]["BatchSize"] == 20
    assert source["Properties"]["MaximumBatchingWindowInSeconds"] == 1
    (policy,) = merged["Resources"]["DefaultRole"]["Properties"]["Policies"]
    assert {"Fn::GetAtt": ["HashesTable", "Arn"]} in _allowed(merged, "dynamodb:GetItem")
    assert all(statement.get("Sid") for statement in policy["PolicyDocument"]["Statement"])


# -- the packaged template: Chalice's own generator and merge, as `make package` runs them --


def _chalice_package(merge_template: dict[str, Any]) -> dict[str, Any]:
    """The SAM template `chalice package --merge-template` writes for this app: Chalice's build
    stage, template generator and deep merge, with the one step that pip-installs and zips the
    deployment package replaced by a stub (no network, a second or two)."""
    import botocore.session
    from chalice.awsclient import TypedAWSClient
    from chalice.cli.factory import CLIFactory
    from chalice.deploy import deployer
    from chalice.deploy.appgraph import ApplicationGraphBuilder, DependencyBuilder
    from chalice.deploy.swagger import CFNSwaggerGenerator
    from chalice.package import (
        PackageOptions,
        ResourceBuilder,
        SAMTemplateGenerator,
        TemplateDeepMerger,
    )
    from chalice.utils import OSUtils

    class NoZip(deployer.BaseDeployStep):
        def handle_deploymentpackage(self, config: Any, resource: Any) -> None:
            resource.filename = "./deployment.zip"

    config = CLIFactory(project_dir=str(ROOT)).create_config_obj(chalice_stage_name="dev")
    osutils = OSUtils()
    # deployer.create_build_stage's steps, in its order, the packager excepted.
    stage = deployer.BuildStage(
        steps=[
            deployer.InjectDefaults(),
            NoZip(),
            deployer.PolicyGenerator(
                policy_gen=deployer.AppPolicyGenerator(osutils=osutils), osutils=osutils
            ),
            deployer.SwaggerBuilder(swagger_generator=CFNSwaggerGenerator()),
            deployer.LambdaEventSourcePolicyInjector(),
            deployer.WebsocketPolicyInjector(),
        ]
    )
    resources = ResourceBuilder(
        ApplicationGraphBuilder(), DependencyBuilder(), stage
    ).construct_resources(config, "dev")
    session = botocore.session.get_session()
    session.set_config_variable("region", "us-east-1")
    options = PackageOptions(TypedAWSClient(session))
    template = SAMTemplateGenerator(config, options).generate(resources)
    return TemplateDeepMerger().merge(copy.deepcopy(merge_template), template)


@pytest.fixture(scope="module")
def packaged(resources: dict[str, Any]) -> dict[str, Any]:
    monitoring = builder.load_resources(builder.MONITORING_JSON)
    return _chalice_package(builder.build(copy.deepcopy(resources), monitoring))


def _api(packaged: dict[str, Any]) -> dict[str, Any]:
    return packaged["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]


def _operations(packaged: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every route and method the deployed API answers, CORS preflights aside."""
    return {
        (path, method.upper()): operation
        for path, methods in _api(packaged)["paths"].items()
        for method, operation in methods.items()
        if method != "options"
    }


def _authorizer_name() -> str:
    import app as chalice_app

    return chalice_app.app.routes["/reviews"]["GET"].authorizer.name


def _authorizer_function(packaged: dict[str, Any]) -> str:
    """The logical ID of the function the API's Lambda authorizer invokes."""
    definition = _api(packaged)["securityDefinitions"][_authorizer_name()]
    uri = definition["x-amazon-apigateway-authorizer"]["authorizerUri"]["Fn::Sub"]
    (function,) = re.findall(r"\$\{(\w+)\.Arn\}", uri)
    return function


# What a reviewer's key opens, and what anyone may fetch. A new route must be added to one.
REVIEWER_ROUTES = {
    ("/reviews", "GET"),
    ("/cases/{case_id}", "GET"),
    ("/cases/{case_id}/decision", "POST"),
    ("/cases/{case_id}/appeal", "POST"),
    ("/cases/{case_id}/statement", "GET"),
    ("/hashes/feed", "GET"),
    ("/hashes/{signal_type}/{value}/opinion", "POST"),
    ("/hashes/{signal_type}/{value}/allow", "PUT"),
    ("/hashes/{signal_type}/{value}/allow", "DELETE"),
}
PUBLIC_ROUTES = {
    ("/review", "GET"),
    ("/review.js", "GET"),
    ("/review.css", "GET"),
    ("/health", "GET"),
}


def test_every_route_is_either_a_reviewers_or_public(packaged):
    assert set(_operations(packaged)) == REVIEWER_ROUTES | PUBLIC_ROUTES


def test_reviewer_routes_are_bound_to_the_lambda_authorizer(packaged):
    """Chalice names a route's security requirement after its authorizer function, and an
    authorizer named `api_key` is taken for the `api_key_required` flag: its definition
    becomes an `x-api-key` requirement, which API Gateway refuses without a usage plan."""
    name = _authorizer_name()
    definitions = _api(packaged)["securityDefinitions"]
    assert set(definitions) == {name}
    definition = definitions[name]
    assert definition["type"] == "apiKey"
    assert definition["in"] == "header"
    assert definition["name"] == "Authorization"
    assert definition["x-amazon-apigateway-authtype"] == "custom"
    authorizer = definition["x-amazon-apigateway-authorizer"]
    assert authorizer["type"] == "token"
    assert authorizer["authorizerResultTtlInSeconds"] == 0  # a revoked key stops at once
    # The URI invokes the authorizer's own function, which the template declares.
    function = _authorizer_function(packaged)
    assert packaged["Resources"][function]["Type"] == "AWS::Serverless::Function"
    assert packaged["Resources"][function]["Properties"]["Handler"] == "app.reviewer_key"
    operations = _operations(packaged)
    for route in REVIEWER_ROUTES:
        assert operations[route]["security"] == [{name: []}], route
    for route, operation in operations.items():
        assert "api_key" not in str(operation.get("security")), route


def test_public_routes_need_no_key(packaged):
    operations = _operations(packaged)
    for route in PUBLIC_ROUTES:
        assert "security" not in operations[route], route


def test_a_route_the_api_lacks_answers_404_and_echoes_nothing(packaged):
    """API Gateway answers a path or method it does not have itself, before any function: 403
    "Missing Authentication Token", or with an Authorization header a signature error that
    quotes the header (the bearer key) back. chalice local and Chalice's test client imitate
    that answer, so only the template can show the fix."""
    responses = _api(packaged)["x-amazon-apigateway-gateway-responses"]
    for kind in ("MISSING_AUTHENTICATION_TOKEN", "INVALID_SIGNATURE"):
        assert responses[kind]["statusCode"] == "404", kind
        assert json.loads(responses[kind]["responseTemplates"]["application/json"]) == {
            "error": "not found"
        }
    # The gateway's other 4xx keep their status (401 without a key, 403 for a wrong one...).
    assert "statusCode" not in responses["DEFAULT_4XX"]
    for kind, response in responses.items():
        for template in response["responseTemplates"].values():
            assert json.loads(template.replace("$context.error.responseType", "X"))
            # Only the response type, from API Gateway's fixed list, is ever filled in.
            assert template.count("$") == template.count("$context.error.responseType"), kind
        assert "responseParameters" not in response, kind  # no request value in a header


def test_the_authorizer_reads_the_templates_tables(packaged):
    """It looks the key up in the tenants table: without the template's names it would look in
    tables of the default names, which the stack does not create."""
    function = _authorizer_function(packaged)
    assert function == builder.AUTHORIZER_FUNCTION
    variables = packaged["Resources"][function]["Properties"]["Environment"]["Variables"]
    for name, value in REQUIRED_ENVIRONMENT.items():
        assert variables[name] == value, name
    assert variables["POWERTOOLS_SERVICE_NAME"] == "cordon"  # .chalice/config.json's, kept


# -- cfn-lint --------------------------------------------------------------------------


def _lint(template: dict[str, Any]) -> list[str]:
    from cfnlint.api import lint

    matches = lint(json.dumps(template, indent=2), regions=["us-east-1"])
    return [str(match) for match in matches if match.rule.id[0] in "EW"]


def test_resources_json_passes_cfn_lint(resources):
    assert _lint(resources) == []


def test_merged_template_passes_cfn_lint(merged):
    assert _lint(merged) == []


def test_packaged_template_passes_cfn_lint(packaged):
    assert _lint(packaged) == []


# -- package size ----------------------------------------------------------------------


def _zip(path: Path, files: dict[str, int]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, size in files.items():
            archive.writestr(name, b"\0" * size)
    return path


def test_package_size_sums_files_by_package(tmp_path):
    path = _zip(
        tmp_path / "deployment.zip",
        {
            "numpy/core.so": 300,
            "numpy.libs/blas.so": 200,
            "numpy-2.2.6.dist-info/RECORD": 10,
            "PIL/Image.py": 50,
            "pillow.libs/libjpeg.so": 40,
            "app.py": 5,
        },
    )
    total, by_package = size_check.sizes(path)
    assert total == 605
    assert by_package == {"numpy": 510, "pillow": 90, "app.py": 5}


def test_package_size_fails_over_the_limit(tmp_path, monkeypatch, capsys):
    path = _zip(tmp_path / "deployment.zip", {"scipy/big.so": 1000})
    monkeypatch.setattr(size_check, "LAMBDA_UNZIPPED_LIMIT", 999)
    assert size_check.main(["check", str(path)]) == 1
    monkeypatch.setattr(size_check, "LAMBDA_UNZIPPED_LIMIT", 1000)
    assert size_check.main(["check", str(path)]) == 0
    assert "scipy" in capsys.readouterr().out


def test_package_size_limit_is_lambdas():
    assert size_check.LAMBDA_UNZIPPED_LIMIT == 250 * 1024 * 1024


def test_role_drives_the_review_workflow_and_restores_objects(merge):
    assert _allowed(merge, "states:StartExecution") == [{"Ref": "ReviewStateMachine"}]
    assert sorted(map(str, _allowed(merge, "sns:Publish"))) == sorted(
        map(
            str,
            [{"Ref": "HashUpdatesTopic"}, {"Ref": "TenantNoticesTopic"}, {"Ref": "ReviewTopic"}],
        )
    )
    assert {"Fn::Sub": "arn:${AWS::Partition}:s3:::*/*"} in _allowed(merge, "s3:PutObject")
    events = merge["Resources"]["ReviewWorker"]["Properties"]["Events"]
    source = events["ReviewWorkerSqsEventSource"]["Properties"]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_role_reads_index_snapshots_but_does_not_write_them(resources, merge):
    snapshots = {"Fn::Sub": "${IndexBucket.Arn}/*"}
    (statement,) = [s for s in _statements(merge) if s.get("Sid") == "IndexSnapshots"]
    assert statement["Effect"] == "Allow"
    assert _actions(statement) == ["s3:GetObject"]
    assert _resources(statement) == [snapshots]
    for action in ("s3:PutObject", "s3:DeleteObject"):
        assert snapshots not in _allowed(merge, action), action
    bucket = resources["Resources"]["IndexBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert resources["Metadata"]["Cordon::Environment"]["CORDON_INDEX_BUCKET"] == {
        "Ref": "IndexBucket"
    }


def test_hash_updates_read_the_tables_stream(merged):
    events = merged["Resources"]["HashUpdates"]["Properties"]["Events"]
    source = events["HashUpdatesDynamodbEventSource"]["Properties"]
    assert source["Stream"] == {"Fn::GetAtt": ["HashesTable", "StreamArn"]}
    assert _allowed(merged, "dynamodb:GetRecords") == [{"Fn::GetAtt": ["HashesTable", "StreamArn"]}]


def test_the_stream_function_is_not_invoked_for_bookkeeping_items(merge):
    from chalicelib.adapters.feed import COUNTER_TYPE, FEED_TYPE
    from chalicelib.adapters.flood import FLOOD_TYPE
    from chalicelib.adapters.hashes import OPINION_TYPE

    source = merge["Resources"]["HashUpdates"]["Properties"]["Events"][
        "HashUpdatesDynamodbEventSource"
    ]["Properties"]
    (rule,) = source["FilterCriteria"]["Filters"]
    pattern = json.loads(rule["Pattern"])
    (excluded,) = pattern["dynamodb"]["Keys"]["signal_type"]["S"]
    assert sorted(excluded["anything-but"]) == sorted(
        [FEED_TYPE, COUNTER_TYPE, FLOOD_TYPE, OPINION_TYPE]
    )


def test_a_stream_batch_that_keeps_failing_is_parked_not_dropped(merge):
    source = merge["Resources"]["HashUpdates"]["Properties"]["Events"][
        "HashUpdatesDynamodbEventSource"
    ]["Properties"]
    failure = source["DestinationConfig"]["OnFailure"]
    assert failure == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["HashUpdatesDeadLetterQueue", "Arn"]},
    }


def test_the_stream_reports_partial_batch_failures(merged):
    # The handler names the first record it could not publish; without this setting Lambda
    # ignores that answer and retries (then parks) the whole batch.
    source = merged["Resources"]["HashUpdates"]["Properties"]["Events"][
        "HashUpdatesDynamodbEventSource"
    ]["Properties"]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["BisectBatchOnFunctionError"] is True
    assert source["MaximumRetryAttempts"] == 10
    variables = merged["Resources"]["HashUpdates"]["Properties"]["Environment"]["Variables"]
    assert variables["CORDON_HASH_UPDATES_DLQ"] == {
        "Fn::GetAtt": ["HashUpdatesDeadLetterQueue", "QueueName"]
    }


def test_stuck_decisions_are_swept_every_five_minutes_with_the_tables_and_the_workflow(packaged):
    function = packaged["Resources"]["SweepDecisions"]["Properties"]
    assert function["Handler"] == "app.sweep_decisions"
    assert function["Events"]["SweepDecisionsEvent"] == {
        "Type": "Schedule",
        "Properties": {"Schedule": "rate(5 minutes)"},
    }
    assert function["Role"] == {"Fn::GetAtt": ["DefaultRole", "Arn"]}
    for name, value in REQUIRED_ENVIRONMENT.items():
        assert function["Environment"]["Variables"][name] == value
    variables = function["Environment"]["Variables"]
    assert variables["CORDON_REVIEW_STATE_MACHINE_ARN"] == {"Ref": "ReviewStateMachine"}
    # What it does: query the status index, read a stuck case's execution, answer its token.
    cases_index = {"Fn::Sub": "${CasesTable.Arn}/index/*"}
    assert cases_index in _allowed(packaged, "dynamodb:Query")
    assert _allowed(packaged, "states:DescribeExecution")
    assert _allowed(packaged, "states:SendTaskSuccess") == ["*"]
