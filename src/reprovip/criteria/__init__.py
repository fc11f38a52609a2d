"""Criteria: thresholds on metrics, turned into verdicts and alerts."""

from reprovip.criteria.evaluate import LABELS, evaluate
from reprovip.criteria.rules import Criterion, default_criteria, known_metrics, parse_rule

__all__ = ["LABELS", "Criterion", "default_criteria", "evaluate", "known_metrics", "parse_rule"]
