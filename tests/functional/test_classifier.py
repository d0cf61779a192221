"""The Rekognition classifier hook. moto does not model DetectModerationLabels, so botocore's
Stubber stands in: it checks every request and response against the real API model."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

import app as chalice_app
from chalicelib.adapters.classifier import REKOGNITION_MAX_BYTES, RekognitionModeration
from cordon_cli import samples
from tests.conftest import World

IMAGE = samples.jpeg(samples.clean(1)[0])


def moderation_response(*labels: tuple[str, str, float]) -> dict:
    return {
        "ModerationLabels": [
            {
                "Name": name,
                "ParentName": parent,
                "Confidence": confidence,
                "TaxonomyLevel": 1 if not parent else 2,
            }
            for name, parent, confidence in labels
        ],
        "ModerationModelVersion": "7.0",
    }


@pytest.fixture
def rekognition():
    client = boto3.client("rekognition", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_keeps_only_the_categories_of_concern(rekognition):
    client, stubber = rekognition
    stubber.add_response(
        "detect_moderation_labels",
        moderation_response(
            ("Extremist", "Hate Symbols", 97.5),
            ("Alcohol", "", 88.0),
            ("Weapons", "Violence", 71.0),
        ),
        {"Image": {"Bytes": IMAGE}, "MinConfidence": 50.0},
    )
    scores = RekognitionModeration(client).classify(IMAGE)
    assert [(s.label, s.category, s.confidence) for s in scores] == [
        ("Extremist", "Hate Symbols", 97.5),
        ("Weapons", "Violence", 71.0),
    ]


def test_images_over_rekognitions_limit_are_not_sent(rekognition):
    client, _ = rekognition
    assert RekognitionModeration(client).classify(b"\xff" * (REKOGNITION_MAX_BYTES + 1)) == []


def test_high_score_sends_unmatched_upload_to_review_not_takedown(world: World, rekognition):
    client, stubber = rekognition
    stubber.add_response(
        "detect_moderation_labels",
        moderation_response(("Extremist", "Hate Symbols", 93.0)),
        {"Image": {"Bytes": IMAGE}, "MinConfidence": 50.0},
    )
    world.tenant("alpha", "alpha-uploads", classifier_enabled=True)
    world.tenant("beta", "beta-uploads")  # classifier off: never called
    pipeline = chalice_app.cordon().pipeline
    pipeline.classifier_factory = lambda: RekognitionModeration(client)
    ref = world.upload("alpha-uploads", "poster.jpg", IMAGE)
    other = world.upload("beta-uploads", "poster.jpg", IMAGE)
    world.drain()
    case = world.case("alpha", ref)
    assert case is not None
    assert case["verdict"]["action"] == "REVIEW"
    assert case["status"] == "pending_review"
    assert "Extremist" in case["verdict"]["reasons"][0]
    beta = world.case("beta", other)
    assert beta is not None and beta["verdict"]["action"] == "ALLOW"
