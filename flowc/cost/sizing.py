"""The size each product bills a task at: memory and vCPU after the product's own rounding.

One function per product, from the task's `memory_mib` and `cpu` (None: not set):
- Lambda: memory, 128..10240 MB; CPU follows memory and is not billed separately.
- Fargate: the smallest supported (vCPU, memory) pair that holds the task, exactly as the
  AWS target sizes the task definition (flowc.targets.aws.ecs.fargate_size).
- Cloud Run functions: without `cpu`, the vCPU that goes with the memory tier
  (https://cloud.google.com/functions/docs/configuring/memory).
- Cloud Run jobs: without `cpu`, 1 vCPU (the default), more where the memory needs it
  (over 4 GiB needs 2, over 8 GiB 4, over 16 GiB 6, over 24 GiB 8).
- Kubernetes: the pod's requests, as the Kubernetes target writes them (without `cpu`,
  its default CPU request), since requests are what a node reserves for the pod.
"""

from __future__ import annotations

from dataclasses import dataclass

# memory tier (MiB) -> default vCPU of a Cloud Run function.
FUNCTION_CPU: tuple[tuple[int, float], ...] = (
    (128, 0.083), (256, 0.167), (512, 0.333), (1024, 0.583), (2048, 1.0),
    (4096, 2.0), (8192, 2.0), (16384, 4.0), (32768, 8.0),
)

# memory above (MiB) -> least vCPU a Cloud Run instance needs.
RUN_MIN_CPU: tuple[tuple[int, float], ...] = ((24576, 8.0), (16384, 6.0), (8192, 4.0),
                                              (4096, 2.0))


@dataclass(frozen=True)
class Size:
    vcpu: float
    memory_mib: int

    @property
    def gib(self) -> float:
        return self.memory_mib / 1024


def lambda_size(memory_mib: int) -> Size:
    memory = min(max(memory_mib, 128), 10240)
    return Size(vcpu=0.0, memory_mib=memory)


def fargate_size(memory_mib: int, cpu: float | None) -> Size:
    from flowc.targets.aws.ecs import fargate_size as target_size

    units, memory = target_size(cpu, memory_mib)
    return Size(units / 1024, memory)


def function_size(memory_mib: int, cpu: float | None) -> Size:
    if cpu is not None:
        return Size(cpu, memory_mib)
    for tier, vcpu in FUNCTION_CPU:
        if memory_mib <= tier:
            return Size(vcpu, memory_mib)
    return Size(FUNCTION_CPU[-1][1], memory_mib)


def run_job_size(memory_mib: int, cpu: float | None) -> Size:
    least = next((vcpu for above, vcpu in RUN_MIN_CPU if memory_mib > above), 0.0)
    return Size(max(cpu if cpu is not None else 1.0, least), memory_mib)


def k8s_size(memory_mib: int, cpu: float | None) -> Size:
    from flowc.targets.k8s.manifests import DEFAULT_CPU_REQUEST

    if cpu is not None:
        return Size(cpu, memory_mib)
    return Size(cpu_of_quantity(DEFAULT_CPU_REQUEST), memory_mib)


def cpu_of_quantity(quantity: str) -> float:
    """A Kubernetes CPU quantity in vCPUs: "100m" -> 0.1, "2" -> 2.0."""
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)
