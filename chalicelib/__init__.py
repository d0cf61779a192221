"""Cordon's logic, packaged into every Lambda by Chalice."""
