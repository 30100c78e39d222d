"""PyTorch side of `npm run bench`: the same optimizer steps and models, same shapes, on this machine.

Run by bench/run.ts with MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 (glibc malloc tuned:
2.6-4x faster training here), once per thread configuration (torch's intra-op threads here, and
OpenBLAS's own threads through OPENBLAS_NUM_THREADS): which is fastest differs by model. Prints one
JSON object on stdout.
Usage: python3 bench/torch_bench.py [--quick] [--threads N] [--steps-only | --model NAME]
(--model: only that training model's row, no optimizer steps.)
"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_gpt import Gpt, parameter_count

QUICK = "--quick" in sys.argv
STEPS_ONLY = "--steps-only" in sys.argv
MODEL = sys.argv[sys.argv.index("--model") + 1] if "--model" in sys.argv else None
THREADS = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2
torch.set_num_threads(THREADS)
torch.manual_seed(0)


def timed(step, warmup, reps, budget_s):
    for _ in range(warmup):
        step()
    times = []
    start = time.perf_counter()
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
        if len(times) >= 3 and time.perf_counter() - start > budget_s:
            break
    return times


def blas_library():
    """The BLAS shared object actually mapped after a matmul (Debian switches it by alternative)."""
    torch.randn(64, 64) @ torch.randn(64, 64)
    with open("/proc/self/maps") as f:
        libs = {line.split()[-1] for line in f if "blas" in line.lower() or "mkl" in line.lower()}
    return sorted(p for p in libs if p.startswith("/"))


class AdaBelief(torch.optim.Optimizer):
    """AdaBelief as src/rules/adabelief.ts computes it (decoupled weight decay, s += ε each step,
    bias-corrected), transcribed in torch's foreach ops: PyTorch has no AdaBelief."""

    def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-16, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            ps = [p for p in group["params"] if p.grad is not None]
            grads = [p.grad for p in ps]
            if not ps:
                continue
            if "step" not in self.state[ps[0]]:
                for p in ps:
                    self.state[p].update(step=0, m=torch.zeros_like(p), s=torch.zeros_like(p))
            for p in ps:
                self.state[p]["step"] += 1
            t = self.state[ps[0]]["step"]
            ms = [self.state[p]["m"] for p in ps]
            ss = [self.state[p]["s"] for p in ps]
            if wd != 0:
                torch._foreach_mul_(ps, 1 - lr * wd)
            torch._foreach_mul_(ms, b1)
            torch._foreach_add_(ms, grads, alpha=1 - b1)
            diffs = torch._foreach_sub(grads, ms)
            torch._foreach_mul_(ss, b2)
            torch._foreach_addcmul_(ss, diffs, diffs, value=1 - b2)
            torch._foreach_add_(ss, eps)
            denom = torch._foreach_sqrt(ss)
            torch._foreach_div_(denom, (1 - b2 ** t) ** 0.5)
            torch._foreach_add_(denom, eps)
            torch._foreach_addcdiv_(ps, ms, denom, value=-lr / (1 - b1 ** t))


class Lion(torch.optim.Optimizer):
    """Lion as lucidrains/lion-pytorch's update_fn (src/rules/lion.ts), transcribed in torch's
    foreach ops (torch 1.13 has no Lion and no _foreach_sign: the sign is one in-place op per
    tensor)."""

    def __init__(self, params, lr, betas=(0.9, 0.99), weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            lr, (b1, b2), wd = group["lr"], group["betas"], group["weight_decay"]
            ps = [p for p in group["params"] if p.grad is not None]
            grads = [p.grad for p in ps]
            if not ps:
                continue
            for p in ps:
                if "m" not in self.state[p]:
                    self.state[p]["m"] = torch.zeros_like(p)
            ms = [self.state[p]["m"] for p in ps]
            if wd != 0:
                torch._foreach_mul_(ps, 1 - lr * wd)
            update = torch._foreach_mul(ms, b1)
            torch._foreach_add_(update, grads, alpha=1 - b1)
            for u in update:
                u.sign_()
            torch._foreach_add_(ps, update, alpha=-lr)
            torch._foreach_mul_(ms, b2)
            torch._foreach_add_(ms, grads, alpha=1 - b2)


# The optimizer-step rows: (name as bench/run.ts names it, bytes moved per parameter by an ideal
# single pass, the optimizer, how it runs). torch 1.13 defaults to foreach=False (one loop of ops
# per tensor); the bar is its foreach step, so both are measured where torch has both.
# Settings as bench/run.ts's STEP_OPTIMIZERS.
def step_optimizers():
    rows = []
    for foreach in (False, True):
        kind = "foreach=True" if foreach else "foreach=False, the 1.13 default"
        rows += [
            ("adamw", 28, lambda ps, f=foreach: torch.optim.AdamW(ps, lr=1e-3, weight_decay=1e-2, foreach=f),
             f"torch.optim.AdamW ({kind})"),
            ("sgd-momentum", 20,
             lambda ps, f=foreach: torch.optim.SGD(ps, lr=1e-3, momentum=0.9, weight_decay=1e-2, foreach=f),
             f"torch.optim.SGD momentum 0.9 ({kind})"),
            ("rmsprop", 20,
             lambda ps, f=foreach: torch.optim.RMSprop(ps, lr=1e-3, weight_decay=1e-2, foreach=f),
             f"torch.optim.RMSprop ({kind})"),
            ("nadam", 28, lambda ps, f=foreach: torch.optim.NAdam(ps, lr=1e-3, weight_decay=1e-2, foreach=f),
             f"torch.optim.NAdam ({kind})"),
        ]
    rows += [
        ("adabelief", 28, lambda ps: AdaBelief(ps, lr=1e-3, weight_decay=1e-2),
         "AdaBelief transcribed in torch foreach ops"),
        ("lion", 20, lambda ps: Lion(ps, lr=1e-4, weight_decay=1e-2),
         "Lion transcribed in torch foreach ops (sign per tensor)"),
    ]
    return rows


def optimizer_step(params, name, bytes_per_param, make, path):
    tensors = round(params / (512 * 512))
    ps = [nn.Parameter(torch.randn(512, 512) * 0.1) for _ in range(tensors)]
    for p in ps:
        p.grad = torch.randn(512, 512)
    opt = make(ps)
    # As bench/run.ts: up to 200 steps or 3 s, so that sub-millisecond steps get a stable median.
    times = timed(opt.step, 2, 3 if QUICK else 200, 2 if QUICK else 3)
    ms = statistics.median(times)
    n = tensors * 512 * 512
    return {
        "optimizer": name,
        "predictionSteps": 0,
        "params": n,
        "path": path,
        "backend": "torch",
        "msPerStep": ms,
        "gbPerSecond": bytes_per_param * n / ms / 1e6,
    }


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def vgg(widths=(32, 64, 128), convs=2):
    layers, c = [], 3
    for w in widths:
        for _ in range(convs):
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
            c = w
        layers.append(nn.MaxPool2d(2))
    side = 32 // 2 ** len(widths)
    layers += [nn.Flatten(), nn.Linear(c * side * side, 128), nn.ReLU(), nn.Linear(128, 10)]
    return nn.Sequential(*layers)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.pad = cout - cin
        self.stride = stride

    def forward(self, x):
        out = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        short = x
        if self.stride != 1 or self.pad:  # option A: subsample and zero-pad channels
            short = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, 0, self.pad))
        return F.relu(out + short)


def resnet(depth=8, width=16, cin=1):
    n = (depth - 2) // 6
    layers = [nn.Conv2d(cin, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
    c = width
    for stage, w in enumerate((width, 2 * width, 4 * width)):
        for b in range(n):
            layers.append(Block(c, w, 2 if stage > 0 and b == 0 else 1))
            c = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10)]
    return nn.Sequential(*layers)


class LstmLm(nn.Module):
    def __init__(self, vocab=10000, emb=128, hidden=128):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, 1, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, x):
        y, _ = self.lstm(self.emb(x))
        return self.out(y)


def training():
    cases = [
        ("MLP 784-256-256-10, batch 128", mlp(), torch.randn(128, 784), 10, "samples", 128),
        ("VGG CNN (default: 3 blocks × 2 conv), 32×32×3, batch 64", vgg(), torch.randn(64, 3, 32, 32),
         10, "samples", 64),
        ("ResNet-8, 28×28×1, batch 64", resnet(), torch.randn(64, 1, 28, 28), 10, "samples", 64),
        ("LSTM LM, vocab 10k, 128 units, 1 layer, bptt 35, batch 20", LstmLm(),
         torch.randint(0, 10000, (20, 35)), 10000, "tokens", 700),
        # bench/torch_gpt.py: the twin of src/models/transformer.ts, same parameter count (checked
        # by bench/run.ts).
        ("Transformer LM (GPT, 4 blocks × 128, 4 heads), vocab 10k, context 128, batch 8",
         Gpt(10000, 128, 4, 4, 128), torch.randint(0, 10000, (8, 128)), 10000, "tokens", 1024),
    ]
    if MODEL is not None:
        cases = [c for c in cases if c[0] == MODEL]
        if not cases:
            sys.exit(f"torch_bench: no model named {MODEL!r}")
    rows = []
    for name, model, x, classes, unit, size in cases:
        y = torch.randint(0, classes, x.shape[:2] if unit == "tokens" else (x.shape[0],))
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
        model.train()

        def step():
            opt.zero_grad(set_to_none=True)
            logits = model(x)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            loss.backward()
            opt.step()
            loss.item()

        # As bench/run.ts: up to 200 steps, or as many as fit the budget.
        ms = statistics.median(timed(step, 2, 3 if QUICK else 200, 4 if QUICK else 5))
        rows.append({"model": name, "backend": "torch", "optimizer": "adamw", "predictionSteps": 0,
                     "samplesPerSecond": size * 1000 / ms, "unit": unit, "msPerStep": ms,
                     "parameters": parameter_count(model)})
        print(f"torch_bench: {name}: {parameter_count(model)} parameters", file=sys.stderr)
    return rows


def main():
    result = {
        "torchVersion": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": blas_library(),
        "optimizerStep": [] if MODEL is not None else [
            optimizer_step(p, *row) for p in (1_048_576, 10_485_760) for row in step_optimizers()],
        "training": [] if STEPS_ONLY else training(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
