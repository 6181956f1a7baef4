"""Resource quantities as GCP and Kubernetes spell them (both accept Kubernetes quantities).

    memory_quantity(1024)  -> "1024Mi"
    cpu_quantity(0.5)      -> "0.5";  cpu_quantity(2.0) -> "2"
"""

from __future__ import annotations


def memory_quantity(memory_mib: int) -> str:
    """Memory in MiB as a quantity string (Cloud Functions, Cloud Run and Kubernetes)."""
    return f"{int(memory_mib)}Mi"


def cpu_quantity(cpu: float) -> str:
    """vCPUs as the shortest decimal string: 1.0 -> "1", 0.25 -> "0.25"."""
    text = f"{float(cpu):.3f}".rstrip("0").rstrip(".")
    return text or "0"
