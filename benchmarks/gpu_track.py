"""A real PyTorch training loop under ``carbonshift.track`` on an NVIDIA GPU.

Trains a small MLP on random data for about a minute with the NVML meter and prints the GPU
energy from NVML's total-energy counter, the energy from integrating the sampled power
(trapezoid), and their difference: over the whole run and per phase (a short idle lead-in,
training, and an idle cool-down during which power ramps down). On a machine without a GPU
(or without PyTorch or nvidia-ml-py) it prints one ``no GPU (reason)`` line and exits 0.

Run: ``.venv/bin/python benchmarks/gpu_track.py [--seconds 60] [--interval 0.1] [--cooldown 15]``
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
    parser.add_argument("--interval", type=float, default=0.1, help="sampling interval (s)")
    parser.add_argument("--idle", type=float, default=3.0, help="idle lead-in (s)")
    parser.add_argument("--cooldown", type=float, default=15.0, help="idle cool-down (s)")
    args = parser.parse_args(argv)

    torch, reason = load_torch()
    if torch is None:
        return no_gpu(reason or "unknown")
    gpus = device_uuid(torch)
    meter = NvmlMeter(gpus)
    reason = meter.unavailable_reason()
    if reason:
        return no_gpu(reason)

    train(torch, 2.0)  # warm-up outside the measurement: CUDA context, kernels, allocator
    torch.cuda.synchronize()
    time.sleep(args.idle)
    with track(meter=meter, interval_s=args.interval) as t:
        t0 = time.monotonic()
        time.sleep(args.idle)
        t1 = time.monotonic()
        steps, loss = train(torch, args.seconds)
        t2 = time.monotonic()
        time.sleep(args.cooldown)

    info = t.meter
    assert info is not None
    readings = [r for r in t.readings if r.power_w is not None]
    times = np.array([r.time_s for r in readings])
    power = np.array([r.power_w for r in readings], dtype=np.float64)
    energy = np.array([r.energy_j for r in readings], dtype=np.float64)
    counter_j, integrated_j = compare(times, power, energy, times[0], times[-1])
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
    start = times[0]  # the meter's clock moves with time.monotonic(); phases are offsets
    bounds = [
        ("idle lead-in", start, start + (t1 - t0)),
        ("training", start + (t1 - t0), start + (t2 - t0)),
        ("  steady (after 5 s)", start + (t1 - t0) + 5.0, start + (t2 - t0)),
        ("cool-down (ramp)", start + (t2 - t0), times[-1]),
        ("  first 5 s of it", start + (t2 - t0), start + (t2 - t0) + 5.0),
    ]
    print(f"{'phase':<22}{'s':>7}{'mean W':>9}{'counter J':>12}{'integr. J':>12}{'diff':>9}")
    for name, lo, hi in bounds:
        c, i = compare(times, power, energy, lo, hi)
        span = min(hi, times[-1]) - max(lo, times[0])
        pct = 100.0 * (c - i) / c if c else float("nan")
        print(f"{name:<22}{span:7.1f}{c / span:9.1f}{c:12.1f}{i:12.1f}{pct:+8.2f}%")
    return 0


def compare(
    times: np.ndarray, power: np.ndarray, energy: np.ndarray, lo: float, hi: float
) -> tuple[float, float]:
    """Counter energy and trapezoid-integrated energy between the readings nearest lo and hi."""
    i = int(np.searchsorted(times, lo))
    j = int(np.searchsorted(times, hi, side="right")) - 1
    i, j = min(i, len(times) - 1), max(j, 0)
    if j <= i:
        return 0.0, 0.0
    counter_j = float(energy[j] - energy[i])
    p, dt = power[i : j + 1], np.diff(times[i : j + 1])
    return counter_j, float(np.sum((p[1:] + p[:-1]) / 2.0 * dt))


if __name__ == "__main__":
    sys.exit(main())
