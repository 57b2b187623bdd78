"""Raises GeneratorExit while it is imported."""
raise GeneratorExit
