"""Repository-wide pytest configuration: the shared infrastructure fixtures."""

pytest_plugins = ["counterflow_testkit"]
