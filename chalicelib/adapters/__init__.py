"""Thin adapters over AWS, one per resource; each takes its boto3 client or table."""
