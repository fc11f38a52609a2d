"""Response schemas of the JSON API (in ``/openapi.json``); tests check every response against them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Error(BaseModel):
    detail: str


class Health(BaseModel):
    status: str


class Verdict(BaseModel):
    status: str
    label: str
    counts: dict[str, int]
    evaluated: bool
    summary: str


class StudySummary(BaseModel):
    key: str
    name: str
    source: str
    study_dir: str | None
    counts: dict[str, int]
    total: int
    verdict: Verdict | None
    stale: str | None = Field(
        None, description="Why the verdict may no longer be the study's (a run or ingest came after it), or null"
    )
    alerts: int
    analysis_id: int | None
    analysed_at: str | None
    url: str


class StudyList(BaseModel):
    studies: list[StudySummary]
    generated_at: str | None


class Run(BaseModel):
    id: int
    command: str | None
    status: str | None
    started_at: str | None
    finished_at: str | None
    duration: float | None = Field(None, description="Seconds from start to finish; null while unfinished")
    hostname: str | None
    n_planned: int | None
    n_done: int | None
    n_failed: int | None
    reprovip_version: str | None


class TrendPoint(BaseModel):
    analysis_id: int
    created_at: str | None
    label: str
    verdict: str
    verdict_label: str
    reprovip_version: str | None
    outputs: dict[str, dict[str, float | str | None]]


class StudyPage(BaseModel):
    study: StudySummary
    runs: list[Run]
    runs_total: int  # all runs of the study; ``runs`` holds the latest ones
    trend: list[TrendPoint]
    analysis: dict[str, Any] | None
    links: dict[str, str]


class ExecutionRow(BaseModel):
    id: str
    subject: str
    condition_key: str
    repetition: int
    status: str
    attempts: int | None
    exit_code: int | None
    duration: float | None
    error: str | None
    url: str


class ExecutionsPage(BaseModel):
    study: StudySummary
    status: str | None
    page: int
    per_page: int
    total: int
    pages: int
    executions: list[ExecutionRow]


class Attempt(BaseModel):
    id: int
    number: int | None
    run_id: int | None = None
    status: str | None = None
    recipe: str | None = None
    superseded: bool | None = None
    argv: list[str]
    env: dict[str, str]
    exit_code: int | None
    timed_out: bool | None
    duration: float | None
    peak_rss: int | None
    hostname: str | None
    started_at: str | None
    finished_at: str | None
    error: str | None
    stdout_tail: str
    stderr_tail: str


class ProvenanceField(BaseModel):
    field: str
    value: Any
    differs: bool


class ExecutionPage(BaseModel):
    study: StudySummary
    execution: dict[str, Any]
    attempts: list[Attempt]
    outputs: list[dict[str, Any]]
    provenance: list[ProvenanceField]


class StudyAlert(BaseModel):
    study: str
    key: str
    url: str
    output: str | None
    severity: str
    message: str
    from_criteria: bool


class AlertsPage(BaseModel):
    alerts: list[StudyAlert]
    generated_at: str | None


class ConditionCounts(BaseModel):
    condition: str
    counts: dict[str, int]
    total: int


class Progress(BaseModel):
    study: StudySummary
    total: int
    finished_fraction: float
    by_condition: list[ConditionCounts]
    running_runs: list[Run]
    finished_last_5_min: int
    rate_per_min: float
    mean_duration: float | None
    eta_seconds: float | None
    refresh_seconds: int | None
    generated_at: str | None


class CompareSide(BaseModel):
    analysis_id: int | None
    created_at: str | None
    reprovip_version: str | None
    verdict: Verdict


class CompareRow(BaseModel):
    output: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    changed: bool
    metrics: list[dict[str, Any]]


class Comparison(BaseModel):
    study: StudySummary
    history: list[int]
    old: CompareSide
    new: CompareSide
    outputs: list[CompareRow]
