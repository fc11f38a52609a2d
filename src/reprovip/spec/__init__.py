"""Study specification: the pydantic models of ``study.yaml`` and their loader."""

from reprovip.spec.loader import load_spec, parse_spec
from reprovip.spec.models import Application, Factor, Output, StudySpec, Subjects

__all__ = ["Application", "Factor", "Output", "StudySpec", "Subjects", "load_spec", "parse_spec"]
