"""Registered Kedro pipelines, one folder each."""
