"""Where the engine runs: CUDA when present, else CPU."""

from __future__ import annotations

import torch


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/"auto": CUDA when present, else CPU; otherwise the named device, checked."""
    from strata.engine.core.errors import StrataError

    if device in (None, "auto"):
        return default_device()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise StrataError(f"--device {device!r}: not a device name (try cpu, cuda or cuda:1)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise StrataError(f"--device {device!r}: CUDA is not available on this machine")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise StrataError(f"--device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return dev


def describe(device: torch.device) -> str:
    """A short name for the status bar: 'CUDA (NVIDIA H100)' or 'CPU (2 threads)'."""
    if device.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(device)})"
    return f"CPU ({torch.get_num_threads()} threads)"
