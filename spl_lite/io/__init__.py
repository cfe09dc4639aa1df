"""Sources, sinks and file formats."""
