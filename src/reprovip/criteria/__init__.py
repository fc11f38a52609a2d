"""Criteria: thresholds on metrics, turned into verdicts and alerts (``evaluate`` in
:mod:`reprovip.criteria.evaluate`, imported where needed: parsing a study must not load the metrics)."""

from reprovip.criteria.rules import Criterion, default_criteria, known_metrics, parse_rule
from reprovip.criteria.verdict import EXIT_CODES, LABELS, LADDER

__all__ = ["EXIT_CODES", "LABELS", "LADDER", "Criterion", "default_criteria", "known_metrics", "parse_rule"]
