"""A real PyTorch training loop under ``carbonshift.track`` on an NVIDIA GPU.

Trains a small MLP on random data for about a minute with the NVML meter and prints the GPU
energy from NVML's total-energy counter, the energy from integrating the sampled power
(trapezoid), and their difference. On a machine without a GPU (or without PyTorch or
nvidia-ml-py) it prints one ``no GPU (reason)`` line and exits 0.

Run: ``.venv/bin/python benchmarks/gpu_track.py [--seconds 60] [--interval 0.2]``
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from typing import Any

import numpy as np

from carbonshift.accounting.meters.nvml import NvmlMeter
from carbonshift.accounting.tracker import track


def no_gpu(reason: str) -> int:
    print(f"no GPU ({reason})")
    return 0


def load_torch() -> tuple[Any, str | None]:
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return None, "PyTorch is not installed"
    if not torch.cuda.is_available():
        return None, "torch.cuda.is_available() is False"
    return torch, None


def device_uuid(torch: Any) -> list[str] | None:
    """The NVML UUID of the GPU torch trains on, so that only that GPU is metered."""
    uuid = getattr(torch.cuda.get_device_properties(0), "uuid", None)
    return [f"GPU-{uuid}"] if uuid else None


def train(torch: Any, seconds: float) -> tuple[int, float]:
    """Train until ``seconds`` have passed; returns (steps, last loss)."""
    dev = torch.device("cuda", 0)
    torch.manual_seed(0)
    width = 4096
    layers: list[Any] = []
    for _ in range(4):
        layers += [torch.nn.Linear(width, width), torch.nn.GELU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width, 10)).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(4096, width, device=dev)
    y = torch.randint(0, 10, (4096,), device=dev)
    steps, loss_value = 0, float("nan")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(10):
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            steps += 1
        loss_value = float(loss.item())  # synchronises with the GPU
    torch.cuda.synchronize()
    return steps, loss_value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="training time (s)")
    parser.add_argument("--interval", type=float, default=0.2, help="sampling interval (s)")
    args = parser.parse_args(argv)

    torch, reason = load_torch()
    if torch is None:
        return no_gpu(reason or "unknown")
    gpus = device_uuid(torch)
    meter = NvmlMeter(gpus)
    reason = meter.unavailable_reason()
    if reason:
        return no_gpu(reason)

    with track(meter=meter, interval_s=args.interval) as t:
        steps, loss = train(torch, args.seconds)

    info = t.meter
    assert info is not None
    readings = [r for r in t.readings if r.power_w is not None]
    times = np.array([r.time_s for r in readings])
    power = np.array([r.power_w for r in readings], dtype=np.float64)
    integrated_j = float(np.sum((power[1:] + power[:-1]) / 2.0 * np.diff(times)))
    counter_j = t.readings[-1].energy_j
    diff_j = counter_j - integrated_j
    print(f"device: {', '.join(info.devices)}; meter: {info.describe()}")
    print(f"trained {steps} steps in {t.duration_s:.1f} s (last loss {loss:.4f})")
    print(f"samples: {len(t.readings)} at {args.interval:g} s; sampler CPU {t.sampler_cpu_s:.3f} s")
    if "counter" not in info.method:
        print("note: this GPU has no energy counter; both figures come from power samples")
    print(f"energy, NVML counter:      {counter_j:12.1f} J  ({counter_j / 3.6e6:.6f} kWh)")
    print(f"energy, integrated samples: {integrated_j:12.1f} J  ({integrated_j / 3.6e6:.6f} kWh)")
    pct = 100.0 * diff_j / counter_j if counter_j else float("nan")
    print(f"difference (counter - integrated): {diff_j:+.1f} J ({pct:+.2f}%)")
    print(f"mean power: {counter_j / t.duration_s:.1f} W")
    return 0


if __name__ == "__main__":
    sys.exit(main())
