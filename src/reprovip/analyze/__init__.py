"""Analysis: bitwise verdicts, observation arrays, metrics, voxelwise maps and attribution."""

from reprovip.analyze.engine import SCHEMA, analyze_study

__all__ = ["SCHEMA", "analyze_study"]
