"""Every metric a criterion may use is documented (the registry and the docs cannot drift apart)."""

from pathlib import Path

from reprovip.criteria import known_metrics

DOC = Path(__file__).parents[2] / "docs" / "criteria.md"


def test_every_metric_is_documented() -> None:
    text = DOC.read_text()
    missing = [m for m in known_metrics() if not m.startswith("ICC") and f"`{m}`" not in text]
    assert missing == []
    for form in ("1,1", "A,1", "C,1", "1,k", "A,k", "C,k"):
        assert form in text
