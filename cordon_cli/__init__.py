"""The `cordon` command: local stack, demo, and operator tools."""
