"""Engines other than the Python one: lowering of the logical plan to SQL (`--engine duckdb`).

Layer: above plan, beside engine (pyproject's import-linter contract).
"""
