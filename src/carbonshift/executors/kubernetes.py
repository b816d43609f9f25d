"""Kubernetes ``batch/v1`` Job manifests for planned jobs: pure functions, no API calls.

**Untested against a real API server**: none can run on the project's machines (see the
components notes), so this module only *builds* manifests and patches; they are checked as
data. Applying them (``kubectl apply -f``, which accepts the JSON from :func:`manifest_json`)
and un-suspending the Job at its planned start is left to a controller or to the service.

The shape:

- the Job is created with ``spec.suspend: true`` and the planned start in the annotation
  ``carbonshift.io/planned-start`` (ISO 8601 UTC); at that time a controller applies
  :func:`resume_patch`. Re-timing is :func:`retime_patch` (the annotation only);
- ``max_runtime_s`` becomes ``activeDeadlineSeconds`` (Kubernetes restarts that timer when a
  suspended Job resumes); the deadline is an annotation (``carbonshift.io/deadline``), since
  Kubernetes has no "latest finish";
- a zone selects nodes through ``node_selectors[zone]`` (e.g. ``{"topology.kubernetes.io/
  region": "europe-west3"}``) and is also a label;
- pausing a running Job is :func:`suspend_patch`: Kubernetes deletes its pods, so only
  ``interruptible="restart"`` jobs fit (they resume from their checkpoint); SIGSTOP-style
  pausing does not exist there.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from carbonshift.errors import UnknownZoneError, UsageError
from carbonshift.executors.spec import JobSpec
from carbonshift.timeutil import format_time, utc

__all__ = [
    "ANNOTATION_DEADLINE",
    "ANNOTATION_PLANNED_START",
    "job_manifest",
    "manifest_json",
    "resume_patch",
    "retime_patch",
    "suspend_patch",
]

ANNOTATION_PLANNED_START = "carbonshift.io/planned-start"
ANNOTATION_DEADLINE = "carbonshift.io/deadline"
ANNOTATION_INTERRUPTIBLE = "carbonshift.io/interruptible"
LABEL_ZONE = "carbonshift.io/zone"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _resources(spec: JobSpec) -> dict[str, dict[str, str]]:
    limits: dict[str, str] = {}
    requests: dict[str, str] = {}
    if spec.resources.cpus is not None:
        limits["cpu"] = requests["cpu"] = str(spec.resources.cpus)
    if spec.resources.gpus:
        limits["nvidia.com/gpu"] = str(spec.resources.gpus)
    out: dict[str, dict[str, str]] = {}
    if limits:
        out["limits"] = limits
    if requests:
        out["requests"] = requests
    return out


def job_manifest(
    spec: JobSpec,
    start_at: datetime,
    *,
    name: str,
    image: str,
    namespace: str = "default",
    max_runtime_s: float | None = None,
    deadline: datetime | None = None,
    node_selectors: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """A suspended ``batch/v1`` Job running ``spec`` in ``image`` (see the module docstring)."""
    if not _DNS_LABEL.match(name):
        raise UsageError(
            f"Kubernetes Job name {name!r} is not a DNS label",
            hint="lower-case letters, digits and '-', at most 63 characters",
        )
    if spec.stdout is not None or spec.stderr is not None:
        raise UsageError(
            "stdout/stderr files cannot be set for a Kubernetes job",
            hint="its output is the pod log (kubectl logs job/NAME)",
        )
    labels = {LABEL_MANAGED_BY: "carbonshift", "carbonshift.io/job": name}
    annotations = {ANNOTATION_PLANNED_START: format_time(utc(start_at))}
    if deadline is not None:
        annotations[ANNOTATION_DEADLINE] = format_time(utc(deadline))
    if spec.interruptible is not None:
        annotations[ANNOTATION_INTERRUPTIBLE] = spec.interruptible
    pod_spec: dict[str, Any] = {"restartPolicy": "Never"}
    if spec.zone is not None:
        labels[LABEL_ZONE] = spec.zone
        if node_selectors is not None:
            if spec.zone not in node_selectors:
                raise UnknownZoneError(
                    f"zone {spec.zone!r} has no node selector",
                    hint=f"known zones: {', '.join(sorted(node_selectors))}",
                )
            pod_spec["nodeSelector"] = dict(node_selectors[spec.zone])
    container: dict[str, Any] = {"name": "job", "image": image, "command": list(spec.command_argv)}
    if spec.cwd is not None:
        container["workingDir"] = str(spec.cwd)
    env = [{"name": k, "value": v} for k, v in spec.env.items()]
    if spec.zone is not None:
        env.append({"name": "CARBONSHIFT_ZONE", "value": spec.zone})
    env.append({"name": "CARBONSHIFT_JOB_HANDLE", "value": name})
    container["env"] = env
    resources = _resources(spec)
    if resources:
        container["resources"] = resources
    pod_spec["containers"] = [container]
    job_spec: dict[str, Any] = {
        "suspend": True,
        "backoffLimit": 0,
        "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec},
    }
    if max_runtime_s is not None:
        if not max_runtime_s > 0:
            raise UsageError("max_runtime_s must be positive")
        job_spec["activeDeadlineSeconds"] = math.ceil(max_runtime_s)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": job_spec,
    }


def manifest_json(manifest: Mapping[str, Any]) -> str:
    """The manifest as JSON (``kubectl apply -f`` reads JSON as well as YAML)."""
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def resume_patch() -> dict[str, Any]:
    """A merge patch that lets the Job's pods start (at its planned start)."""
    return {"spec": {"suspend": False}}


def suspend_patch() -> dict[str, Any]:
    """A merge patch that stops the Job; Kubernetes deletes its running pods."""
    return {"spec": {"suspend": True}}


def retime_patch(start_at: datetime) -> dict[str, Any]:
    """A merge patch moving the planned start annotation of a suspended Job."""
    return {"metadata": {"annotations": {ANNOTATION_PLANNED_START: format_time(utc(start_at))}}}
