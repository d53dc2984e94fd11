#!/usr/bin/python3
"""Exports the fleetml model zoo (data/zoo.json) as TorchScript files <id>.pt.

Random weights from a fixed seed; nothing is downloaded. Each file is written to a temporary
name beside its target, fsynced and renamed, so a killed export never leaves a truncated
artifact; files already present are skipped. Run with Debian's /usr/bin/python3 (torch 1.13,
torchvision 0.14).

    /usr/bin/python3 scripts/export_zoo.py --out DIR [--only id,id] [--zoo data/zoo.json]
"""

import argparse
import importlib
import json
import os
import sys
import time

import torch
from torch import nn

SEED = 20240601


class LeNet5(nn.Module):
    """Classic LeNet-5 (LeCun et al. 1998) for 1x1x32x32 MNIST digits: 61,706 parameters."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5), nn.Tanh(), nn.AvgPool2d(2))
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120), nn.Tanh(),
            nn.Linear(120, 84), nn.Tanh(),
            nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class Logits(nn.Module):
    """Makes torchvision's GoogLeNet/Inception3 return plain logits once scripted.

    Scripted, their forward returns a (logits, aux...) tuple even in eval and GoogLeNet warns
    on every call; calling their internal _forward keeps every parameter (InceptionV3's
    AuxLogits included, as in the published count) but runs only the eval path.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        x = self.model._transform_input(x)
        out = self.model._forward(x)
        return out[0]


def build(entry):
    builder = entry["builder"]
    if builder == "fleetml.lenet5":
        return LeNet5(**entry["kwargs"])
    module_name, fn = builder.rsplit(".", 1)
    model = getattr(importlib.import_module(module_name), fn)(weights=None, **entry["kwargs"])
    if entry["id"] in ("googlenet", "inception_v3"):
        model = Logits(model)
    return model


def export(entry, path):
    torch.manual_seed(SEED)
    model = build(entry).eval()
    params = sum(p.numel() for p in model.parameters())
    if params != entry["params"]:
        raise RuntimeError(f"{entry['id']}: {params} parameters, published {entry['params']}")
    scripted = torch.jit.script(model)
    with torch.no_grad():
        out = scripted(torch.zeros(entry["input_shape"]))
    if not isinstance(out, torch.Tensor):
        raise RuntimeError(f"{entry['id']}: forward returns {type(out).__name__}, not a tensor")
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        torch.jit.save(scripted, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    dir_fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return params


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="cache directory for <id>.pt files")
    parser.add_argument("--zoo", default=os.path.join(here, "..", "data", "zoo.json"))
    parser.add_argument("--only", default="", help="comma-separated model ids")
    args = parser.parse_args()

    with open(args.zoo) as f:
        entries = json.load(f)["models"]
    if args.only:
        wanted = args.only.split(",")
        unknown = sorted(set(wanted) - {e["id"] for e in entries})
        if unknown:
            sys.exit(f"export_zoo: unknown model id(s): {', '.join(unknown)}")
        entries = [e for e in entries if e["id"] in wanted]
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)

    start = time.monotonic()
    for i, entry in enumerate(entries, 1):
        path = os.path.join(args.out, entry["id"] + ".pt")
        tag = f"[{i}/{len(entries)}] {entry['id']}"
        if os.path.exists(path):
            print(f"{tag}: present, skipped", flush=True)
            continue
        t0 = time.monotonic()
        params = export(entry, path)
        print(f"{tag}: exported {os.path.getsize(path) / 1e6:.1f} MB, {params:,} params, "
              f"{time.monotonic() - t0:.1f} s", flush=True)
    total = sum(os.path.getsize(os.path.join(args.out, e["id"] + ".pt")) for e in entries)
    print(f"zoo: {len(entries)} models, {total / 1e6:.0f} MB in {args.out}, "
          f"{time.monotonic() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
