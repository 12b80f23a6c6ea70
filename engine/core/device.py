"""Where the engine runs: CUDA when present, then Apple's GPU (MPS), else CPU."""

from __future__ import annotations

import ctypes
import sys

import torch

_MALLOC_TUNED = False


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def default_device() -> torch.device:
    """CUDA, then MPS, then CPU: the first this machine has."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/"auto": CUDA, then MPS, then CPU; otherwise the named device, checked."""
    from strata.engine.core.errors import StrataError

    if device in (None, "auto"):
        return default_device()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise StrataError(f"--device {device!r}: not a device name (try auto, cpu, cuda, cuda:1 or mps)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise StrataError(f"--device {device!r}: CUDA is not available on this machine")
    if dev.type == "mps" and not _mps_available():
        raise StrataError(f"--device {device!r}: Apple's GPU (MPS) is not available on this machine "
                          "(it needs a Mac with Apple silicon and a PyTorch build with MPS)")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise StrataError(f"--device {device!r}: Strata runs on cpu, cuda or mps")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise StrataError(f"--device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return dev


def describe(device: torch.device) -> str:
    """A short name for the status bar: 'CUDA (NVIDIA H100)' or 'CPU (2 threads)'."""
    if device.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "MPS (Apple GPU)"
    return f"CPU ({torch.get_num_threads()} threads)"


def keep_freed_memory() -> bool:
    """Let glibc's allocator keep freed blocks for reuse instead of unmapping them (Linux).

    By default glibc serves every allocation above 32 MB (and, once freed
    memory is trimmed, many smaller ones) with a fresh ``mmap``, so each
    synthesis layer's output is a new mapping whose pages fault in one by one
    and are zeroed by the kernel: on a CPU that is as much time as the layers'
    arithmetic (about half the CPU time of a discovery run was system time).
    Raising the mmap and trim thresholds to 1 GiB keeps freed activations in
    the heap for the next layer. The process's resident memory then stays near
    its peak instead of shrinking between frames. Called once by the renderer
    and the discovery pipeline on a CPU; returns whether it took effect.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED or not sys.platform.startswith("linux"):
        return _MALLOC_TUNED
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        ok = libc.mallopt(m_mmap_threshold, 1 << 30) == 1 and libc.mallopt(m_trim_threshold, 1 << 30) == 1
    except (OSError, AttributeError):  # not glibc
        ok = False
    _MALLOC_TUNED = ok
    return ok
