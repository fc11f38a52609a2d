"""Turn a planned execution into a :class:`~reprovip.execute.sandbox.Task`: argv template, values, environment."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Any

from reprovip.execute.environments import Environment
from reprovip.execute.render import FACTOR_VARIABLES, render, thread_env
from reprovip.execute.sandbox import OutputDecl, Task
from reprovip.plan import PlannedExecution
from reprovip.spec.models import MKL_CBWR, StudySpec, is_unseeded, mkl_branch

#: What the caller's environment always hands down when a level does not set it: what finds programs and
#: libraries, and the user's home, language and terminal.
KEPT_VARIABLES = frozenset(
    {"PATH", "LD_LIBRARY_PATH", "PYTHONPATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "TERM", "TMPDIR"}
)


def argv_template(spec: StudySpec, study_dir: Path) -> list[str]:
    """The study's command as an argv template, whatever kind of application it declares."""
    app = spec.application
    if app.command is not None:
        return list(app.command)
    if app.python is not None:
        names = ["input", "outdir", "subject", "repetition", *spec.factors]
        return [sys.executable, "-m", "reprovip.execute.pycall", app.python, *[f"{n}={{{n}}}" for n in names]]
    if app.launcher == "bosh":
        from reprovip.spec.boutiques import bosh_launch_template, descriptor_path

        desc = str(descriptor_path(app.boutiques, study_dir))
        return bosh_launch_template(desc, app.invocation or {}, factors=list(spec.factors))
    return []  # Boutiques builds the argv per execution, on the worker (see sandbox.run_task)


def build_task(
    spec: StudySpec,
    study_dir: Path,
    planned: PlannedExecution,
    *,
    template: list[str],
    work_root: str | None,
    scratch: str = "",
    environments: dict[str, Environment] | None = None,
    rootfs: dict[str, tuple[Path, dict[str, str]]] | None = None,
    containers: dict[tuple[str, str], dict[str, str]] | None = None,
) -> Task:
    """Materialise one execution: placeholder values, environment and seed (``random`` is drawn now)."""
    cond = planned.condition
    values: dict[str, Any] = {
        "subject": planned.subject.id,
        "input": planned.subject.input,
        "repetition": planned.repetition,
        "study_dir": str(study_dir),
        "python": sys.executable,
    }
    env = dict(spec.env)
    user_env = set(env)  # the study's own variables: their placeholders are filled once every value is known
    argv = list(template)
    extra: dict[str, Any] = {}
    seed = None
    for name, value in cond.values.items():
        label = cond.labels[name]
        values[f"{name}_level"] = label  # e.g. {seed_level} is "random" where {seed} is the drawn integer
        if name == "threads":
            env.update(thread_env(int(value)))
            values["threads"] = int(value)
        elif name == "seed" and is_unseeded(value):
            values["seed"] = value["unseeded"]  # the application's own word; it seeds itself, nothing is recorded
        elif name == "seed":
            seed = secrets.randbelow(2**31 - 1) if value == "random" else int(value)
            values["seed"] = seed
        elif name == "env":
            env.update({str(k): str(v) for k, v in value.items()})
            user_env.update(str(k) for k in value)
            values["env"] = label
        elif name == "args":
            argv += [str(a) for a in value]
            values["args"] = label
        elif name == "blas":
            if (branch := mkl_branch(value)) is None:
                env["OPENBLAS_CORETYPE"] = str(value)
            else:  # both libraries emulate that instruction set (OpenBLAS ignores MKL's words)
                env["MKL_CBWR"] = str(value).upper()
                if (core := MKL_CBWR[branch]) is not None:
                    env["OPENBLAS_CORETYPE"] = core
            values["blas"] = label
        elif name == "perturb":
            values["perturb"] = label
            if value == "verrou":
                extra["verrou"] = True
                extra["perturb"] = {"ulps": 0.0, "seed": 0}  # its input as level 0 gets it (below)
            elif float(value) > 0:
                pseed = secrets.randbelow(2**31 - 1)
                extra["perturb"] = {"ulps": float(value), "seed": pseed}
                env["REPROVIP_PERTURB_ULPS"], env["REPROVIP_PERTURB_SEED"] = str(value), str(pseed)
            else:  # the same copy without noise: a scaled int16 image reached level 0 as int16, the others as
                extra["perturb"] = {"ulps": 0.0, "seed": 0}  # float64, and that type change read "perturb" (a review)
        elif name == "os":
            root, facts = (rootfs or {})[label]
            extra["os"] = {"root": str(root), **facts}
            values["os"] = label
        elif name == "container":
            extra["container"] = _container(dict(value), containers)
            values["container"] = label
        elif name == "environments":
            environment = (environments or {})[label]
            env.update(environment.env_vars())
            values["python"] = environment.python
            values["environments"] = label
            extra["environment"] = {
                "name": label,
                "requirements": list(environment.requirements),
                "packages": environment.packages,
            }
        else:
            values[name] = value
    if spec.trace != "none":
        extra["trace"] = spec.trace  # see reprovip.execute.trace
        if spec.trace_keep:
            extra["trace_keep"] = spec.trace_keep
    if spec.application.container is not None and "container" not in extra:
        extra["container"] = _container(spec.application.container.model_dump(), containers)
    for key in user_env & set(env):
        env[key] = render(env[key], values)  # {outdir} is refused here by the loader: it does not exist yet
    env["REPROVIP_EXECUTION_ID"] = planned.id
    if seed is not None:
        env["REPROVIP_SEED"] = str(seed)
    # What another level sets and this one does not is not handed down from the caller's environment either: an
    # `env` level `default: {}` ran with the caller's TOOL_MODE=fast, as its `fast` level, and read "identical"
    levelled = {v for f, variables in FACTOR_VARIABLES.items() if f in spec.factors for v in variables}
    if isinstance(levels := spec.factors.get("env"), dict):
        levelled.update(str(k) for variables in levels.values() for k in variables)
    levelled -= KEPT_VARIABLES  # a level pointing PATH at a debug build left the others with no PATH (a review)
    if spec.application.boutiques is not None:
        from reprovip.spec.boutiques import descriptor_path

        desc = str(descriptor_path(spec.application.boutiques, study_dir))
        extra["boutiques"] = {
            "descriptor": desc,
            "invocation": spec.application.invocation or {},
            "launcher": spec.application.launcher,
        }
    return Task(
        execution_id=planned.id,
        argv=argv,
        values=values,
        env=env,
        unset=tuple(sorted(levelled - set(env))),
        outputs=[OutputDecl(n, o.path, o.kind, optional=o.optional).rendered(values) for n, o in spec.outputs.items()],
        timeout=spec.timeout,
        seed=seed,
        work_root=work_root,
        scratch=scratch,
        extra=extra,
    )


def _container(image: dict[str, str], containers: dict[tuple[str, str], dict[str, str]] | None) -> dict[str, str]:
    """The engine and image, with the digest :func:`reprovip.execute.container.prepare` found before the run."""
    return (containers or {}).get((image["engine"], image["image"]), image)
