"""The device decision: cuda when torch sees a CUDA device, else the CPU with the reason, never an error."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest

from agentgov.deploy import Device, choose_device


def _torch(available: bool, count: int = 1, name: str = "NVIDIA H100 80GB HBM3") -> SimpleNamespace:
    cuda = SimpleNamespace(
        is_available=lambda: available, device_count=lambda: count, get_device_name=lambda index: name
    )
    return SimpleNamespace(__version__="2.13.0", cuda=cuda)


def test_cuda_is_chosen_when_torch_sees_a_device() -> None:
    device = choose_device(lambda: _torch(True, count=2))
    assert device == Device("cuda", "torch 2.13.0 sees 2 CUDA devices (NVIDIA H100 80GB HBM3)")


def test_the_cpu_is_chosen_with_the_reason_when_cuda_is_not_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    device = choose_device(lambda: _torch(False))
    assert device == Device("cpu", "torch 2.13.0: torch.cuda.is_available() is False (CUDA_VISIBLE_DEVICES is empty)")


def test_a_broken_torch_means_the_cpu_not_an_error() -> None:
    def broken() -> None:
        raise OSError("libcudart.so.12: cannot open shared object file")

    device = choose_device(broken)
    assert device.name == "cpu" and "libcudart.so.12" in device.reason

    def failing_query() -> SimpleNamespace:
        torch = _torch(True)
        torch.cuda.is_available = lambda: (_ for _ in ()).throw(RuntimeError("driver too old"))
        return torch

    assert choose_device(failing_query) == Device(
        "cpu", "torch 2.13.0 could not query CUDA (RuntimeError: driver too old)"
    )


def test_this_machine_decides_from_its_own_torch() -> None:
    device = choose_device()
    if importlib.util.find_spec("torch") is None:
        assert device == Device("cpu", "torch is not installed")
    else:
        import torch

        assert device.name == ("cuda" if torch.cuda.is_available() else "cpu")
