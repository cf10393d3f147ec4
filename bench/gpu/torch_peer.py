#!/usr/bin/python3
"""PyTorch peer for Retort's reference workloads W1-W4 (see bench/kernels/workloads.ts).

Needs PyTorch (Debian: apt-get install -y python3-torch; on a GPU machine a CUDA build of torch).
Run:  python3 bench/gpu/torch_peer.py [--device cpu|cuda] [--threads N] [--seconds S] [--only W1,W3] [--batch 128]
Prints one JSON object per line:
{"workload", "ms_per_step", "img_per_s", "steps", "threads", "device", "torch"}.
With --device cuda the timed loop ends with torch.cuda.synchronize(), so ms/step includes all GPU work.
Same shapes, optimiser and losses as the workloads' definitions, so the ratio
Retort/PyTorch measured in one run is meaningful.
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 128


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(784, 256), nn.Linear(256, 256), nn.Linear(256, 10)

    def forward(self, x):
        x = x.reshape(x.shape[0], 784)
        return self.l3(F.relu(self.l2(F.relu(self.l1(x)))))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 32, 3, padding=1), nn.Conv2d(32, 64, 3, padding=1)
        self.f1, self.f2 = nn.Linear(64 * 7 * 7, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.f2(F.relu(self.f1(x.flatten(1))))


class Block(nn.Module):
    def __init__(self, ch, drop):
        super().__init__()
        self.a, self.b = nn.Conv2d(ch, ch, 3, padding=1), nn.Conv2d(ch, ch, 3, padding=1)
        self.drop = drop

    def forward(self, x):
        r = self.b(F.relu(self.a(x)))
        if self.training and self.drop > 0:  # per-sample drop-path
            keep = (torch.rand(x.shape[0], 1, 1, 1, device=x.device) >= self.drop).float() / (1 - self.drop)
            r = r * keep
        return F.relu(x + r)


class ResNet(nn.Module):
    def __init__(self, ch=32, drops=(0.1, 0.16, 0.23, 0.3)):
        super().__init__()
        self.stem = nn.Conv2d(1, ch, 3, stride=2, padding=1)  # 28x28 -> 14x14
        self.blocks = nn.Sequential(*[Block(ch, d) for d in drops])
        self.head = nn.Linear(ch, 10)

    def forward(self, x):
        x = self.blocks(F.relu(self.stem(x)))
        return self.head(x.mean(dim=(2, 3)))


def kd_loss(s, t, y, T=4.0, alpha=0.9):
    kl = F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction="batchmean") * T * T
    return (1 - alpha) * F.cross_entropy(s, y) + alpha * kl


def workload(name, device):
    x = torch.randn(BATCH, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (BATCH,), device=device)
    if name in ("W1", "W2"):
        model = (MLP() if name == "W1" else CNN()).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()
        return step
    if name == "W3":
        teacher, student = CNN().to(device).eval(), MLP().to(device)
        for p in teacher.parameters():
            p.requires_grad_(False)
        opt = torch.optim.Adam(student.parameters(), lr=1e-3)

        def step():
            opt.zero_grad(set_to_none=True)
            with torch.no_grad():
                t = teacher(x)
            kd_loss(student(x), t, y).backward()
            opt.step()
        return step
    if name == "W4":
        model = ResNet().to(device).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        onehot = F.one_hot(y, 10).float()

        def step():
            opt.zero_grad(set_to_none=True)
            o = model(torch.cat([x, x]))  # two stochastic-depth submodels
            o1, o2 = o[:BATCH], o[BATCH:]
            bce = F.binary_cross_entropy_with_logits
            loss = 0.25 * (bce(o1, onehot) + bce(o2, onehot)
                           + bce(o1, torch.sigmoid(o2).detach()) + bce(o2, torch.sigmoid(o1).detach()))
            loss.backward()
            opt.step()
        return step
    raise ValueError(name)


def bench(step, seconds, sync, warmup=3, min_steps=5):
    for _ in range(warmup):
        step()
    sync()
    n, t0 = 0, time.perf_counter()
    while n < min_steps or time.perf_counter() - t0 < seconds:
        step()
        n += 1
        if n % 10 == 0:
            sync()  # keep the launch queue bounded; the wall clock measures the GPU work
    sync()
    return (time.perf_counter() - t0) * 1000 / n, n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--only", default="W1,W2,W3,W4")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (cuda:N)")
    ap.add_argument("--batch", type=int, default=BATCH)
    a = ap.parse_args()
    globals()["BATCH"] = a.batch
    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: this PyTorch build has no CUDA or sees no GPU")
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    name_of = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    for name in a.only.split(","):
        ms, n = bench(workload(name, device), a.seconds, sync)
        print(json.dumps({"workload": name, "ms_per_step": round(ms, 3),
                          "img_per_s": round(BATCH * 1000 / ms, 1), "steps": n, "batch": BATCH,
                          "threads": a.threads, "device": name_of, "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
