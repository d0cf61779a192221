"""Classifiers score content that no hash matched. Off unless a tenant's policy enables one.

`RekognitionModeration` asks Amazon Rekognition's DetectModerationLabels and keeps the labels
of the categories that concern terrorist content (violence, hate symbols and their children,
such as "Extremist"). Its scores reach the policy like matches do; by default a high score
means REVIEW, never an automatic takedown.
"""

from __future__ import annotations

from typing import Any, Protocol

from chalicelib.models import ClassifierScore

# Rekognition moderation taxonomy (v7): top-level categories relevant to terrorist content.
DEFAULT_CATEGORIES = frozenset({"Violence", "Visually Disturbing", "Hate Symbols"})
# DetectModerationLabels takes at most 5 MB of image bytes.
REKOGNITION_MAX_BYTES = 5 * 1024 * 1024


class Classifier(Protocol):
    name: str

    def classify(self, image_bytes: bytes) -> list[ClassifierScore]: ...


class RekognitionModeration:
    name = "rekognition-moderation"

    def __init__(
        self,
        client: Any,
        min_confidence: float = 50.0,
        categories: frozenset[str] = DEFAULT_CATEGORIES,
    ) -> None:
        self.client = client
        self.min_confidence = min_confidence
        self.categories = categories

    def classify(self, image_bytes: bytes) -> list[ClassifierScore]:
        if len(image_bytes) > REKOGNITION_MAX_BYTES:
            return []
        response = self.client.detect_moderation_labels(
            Image={"Bytes": image_bytes}, MinConfidence=self.min_confidence
        )
        scores = []
        for label in response.get("ModerationLabels", []):
            category = label.get("ParentName") or label["Name"]
            top = label.get("TaxonomyLevel", 1) == 1 or not label.get("ParentName")
            if label["Name"] in self.categories or category in self.categories:
                scores.append(
                    ClassifierScore(
                        classifier=self.name,
                        label=label["Name"],
                        confidence=float(label["Confidence"]),
                        category=label["Name"] if top else category,
                    )
                )
        return scores
