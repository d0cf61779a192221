"""The local stack's resources are the ones `infra/resources.json` declares."""

from __future__ import annotations

import json

from cordon_cli.bootstrap import load_template
from tests.conftest import World


def test_every_table_exists_with_its_keys_indexes_and_stream(world: World):
    client = world.session.client("dynamodb")
    for logical, resource in load_template()["Resources"].items():
        if resource["Type"] != "AWS::DynamoDB::Table":
            continue
        props = resource["Properties"]
        table = client.describe_table(TableName=props["TableName"])["Table"]
        assert table["KeySchema"] == props["KeySchema"], logical
        wanted = {i["IndexName"] for i in props.get("GlobalSecondaryIndexes", [])}
        assert {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])} == wanted
        if "StreamSpecification" in props:
            assert table["StreamSpecification"]["StreamEnabled"]


def test_evidence_bucket_is_versioned_locked_encrypted_and_private(world: World):
    s3 = world.s3
    bucket = world.cordon.settings.evidence_bucket
    assert bucket == world.stack.refs["EvidenceBucket"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    lock = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    retention = lock["Rule"]["DefaultRetention"]
    assert (retention["Mode"], retention["Days"]) == ("COMPLIANCE", 183)
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_evidence_cannot_be_deleted(world: World):
    s3 = world.s3
    bucket = world.cordon.settings.evidence_bucket
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x", ChecksumAlgorithm="SHA256")
    try:
        s3.delete_object(Bucket=bucket, Key="k", VersionId=put["VersionId"])
    except s3.exceptions.ClientError as error:
        assert error.response["Error"]["Code"] == "AccessDenied"
    else:
        raise AssertionError("a locked evidence version was deleted")


def test_ingest_queue_redrives_to_its_dead_letter_queue(world: World):
    attributes = world.cordon.sqs.get_queue_attributes(
        QueueUrl=world.stack.refs["IngestQueue"], AttributeNames=["RedrivePolicy"]
    )["Attributes"]
    policy = json.loads(attributes["RedrivePolicy"])
    assert policy["deadLetterTargetArn"] == world.stack.attrs[("IngestDeadLetterQueue", "Arn")]
    # Cordon dead-letters itself (with the reason) before SQS's backstop would.
    assert int(policy["maxReceiveCount"]) > world.cordon.settings.max_receives


def test_settings_environment_names_every_resource(world: World):
    environment = world.stack.environment(load_template())
    settings = world.cordon.settings
    assert environment["CORDON_HASHES_TABLE"] == settings.hashes_table
    assert environment["CORDON_EVIDENCE_BUCKET"] == settings.evidence_bucket
    assert environment["CORDON_INGEST_DLQ"] == settings.ingest_dlq
    assert environment["CORDON_UPLOADS_TOPIC_ARN"] == settings.uploads_topic_arn
