"""The bottom layer: values and their semantics, errors and their one renderer, columns and batches."""

VERSION = "0.1.0"
