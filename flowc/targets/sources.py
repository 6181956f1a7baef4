"""The files a python task ships where the platform installs requirements itself (GCP, k8s).

Cloud Functions builds from source (its buildpack runs `pip install -r requirements.txt`)
and the Kubernetes target installs requirements in an init container, so neither
vendors packages the way the AWS Lambda zip does. Both ship the task's code directory
plus one requirements file: the task's layers' requirements (in order), then its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from flowc.compiler.ir import App, Task
from flowc.targets.packaging import PackagingError, collect_code
from flowc.targets.task_code import task_files


def requirements_text(app: App, task: Task) -> bytes | None:
    """The task's layers' requirements and its own, concatenated; None when it has none."""
    layers = {layer.name: layer for layer in app.layers}
    paths = [layers[name].requirements for name in task.layers if name in layers]
    if task.requirements:
        paths.append(task.requirements)
    if not paths:
        return None
    chunks = []
    for rel in paths:
        try:
            text = (app.base_path / rel).read_bytes()
        except OSError as exc:
            raise PackagingError(f"cannot read requirements file `{rel}`: {exc}") from exc
        chunks.append(f"# from {rel}\n".encode() + text.rstrip(b"\n") + b"\n")
    return b"".join(chunks)


def task_sources(app: App, task: Task, exclude: Iterable[Path], requirements_name: str
                 ) -> dict[str, bytes]:
    """The code dir files the task ships (archive path -> bytes, task_code.py) plus the
    requirements under `requirements_name`.

    Raises PackagingError when the code directory or a requirements file is missing.
    """
    files = task_files(task, collect_code(app.base_path / task.code_dir, exclude=exclude))
    requirements = requirements_text(app, task)
    if requirements is not None:
        files[requirements_name] = requirements
    return files
