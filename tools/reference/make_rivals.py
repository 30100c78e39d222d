#!/usr/bin/env python3
"""Float64 reference trajectories for the rivals (NAdam, Lion, Schedule-Free AdamW, Lookahead),
written to test/fixtures/rivals.json in the format of test/fixtures/optimizers.json.

None of these can be called from Debian's torch 1.13 as their authors ship them (no Python package
index is reachable here, and 1.13's NAdam has the mu_product bug fixed by pytorch/pytorch#92699),
so each is transcribed in float64 torch from its official source, cited below, and computed a second
time by an independent plain-numpy implementation. The two must agree to 1e-12, and the identities
checked in `main` must hold, before anything is written. Semantics: tools/reference/README.md.

Sources transcribed (file @ commit):
- NAdam: pytorch/pytorch torch/optim/nadam.py @ 00c2d88d579262aac44b17265a2c0828aea35b04
  (`_single_tensor_nadam`, with the fix `mu_product_next = mu_product * mu_next`). Its
  `decoupled_weight_decay` branch (θ ← θ·(1 − γλ) instead of g ← g + λθ) appeared in torch 2.1 and
  is written from that release's documented algorithm, not from a file read here.
- Lion: lucidrains/lion-pytorch lion_pytorch/lion_pytorch.py @ 05258c934a4e69af6e897a2d614e23e9b8c0ca4c
  (`update_fn`; the default `decoupled_weight_decay=False`, i.e. θ ← θ·(1 − lr·wd)).
- Schedule-Free AdamW: facebookresearch/schedule_free schedulefree/adamw_schedulefree.py @
  70785b53e778d0e872c0bbb75ff4ee54ee10c291 (HEAD; the `foreach=False` branch, inner_momentum = 0),
  and, for the numpy implementation, schedulefree/adamw_schedulefree_reference.py at the same commit
  (explicit x, y, z sequences, decay_at_z = False).
- Lookahead: Zhang, Lucas, Hinton, Ba, "Lookahead Optimizer: k steps forward, 1 step back"
  (NeurIPS 2019), Algorithm 1, written from the paper: the inner optimizer's state is kept across
  synchronisations (no momentum pullback). Inner optimizers: torch.optim.AdamW / SGD, or the
  transcriptions above.

Run from the repository root:  /usr/bin/python3 tools/reference/make_rivals.py
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as base  # noqa: E402  (shared schedules, problem, checks)

STEPS = 60
EXTRA_LRS = base.EXTRA_LRS
AGREE_TOL = 1e-12
FLOAT32_TOL = 1e-6
OUT_PATH = os.path.join(base.REPO, "test", "fixtures", "rivals.json")

DEFAULTS = {
    "adamw": base.DEFAULTS["adamw"],
    "sgd": base.DEFAULTS["sgd"],
    "nadam": {"betas": [0.9, 0.999], "epsilon": 1e-8, "weightDecay": 0.0,
              "momentumDecay": 4e-3, "decoupledWeightDecay": False},
    "lion": {"betas": [0.9, 0.99], "weightDecay": 0.0},
    "schedule-free-adamw": {"betas": [0.9, 0.999], "epsilon": 1e-8, "weightDecay": 0.0,
                            "warmupSteps": 0, "r": 0.0, "weightLrPower": 2.0},
    "lookahead": {"k": 5, "alpha": 0.5},
}
# Schedule-Free takes its gradient at y by construction and has no prediction options.
PREDICTING = {"adamw", "sgd", "nadam", "lion"}


def options(optimizer, lr, s=0, **extra):
    o = {"learningRate": lr, **copy.deepcopy(DEFAULTS[optimizer])}
    if optimizer in PREDICTING:
        o.update(base.PREDICTION_DEFAULTS)
        o["predictionSteps"] = s
    for k, v in extra.items():
        assert k in o or k in ("clipGlobalNorm", "excludeFromWeightDecay"), k
        o[k] = v
    return o


def lookahead_options(inner_name, inner_options, **extra):
    o = {"optimizer": {"name": inner_name, "options": inner_options},
         **copy.deepcopy(DEFAULTS["lookahead"])}
    for k, v in extra.items():
        assert k in o, k
        o[k] = v
    return o


def inner_of(case):
    """(name, options) of the optimizer whose update runs every step (Lookahead's inner one)."""
    if case["optimizer"] == "lookahead":
        spec = case["options"]["optimizer"]
        return spec["name"], spec["options"]
    return case["optimizer"], case["options"]


def is_decoupled(name, o) -> bool:
    return name in ("adamw", "lion") or (name == "nadam" and o["decoupledWeightDecay"])


def lams_for(case):
    _, o = inner_of(case)
    excluded = set(o.get("excludeFromWeightDecay", []))
    return [0.0 if v["name"] in excluded else float(o["weightDecay"]) for v in case["variables"]]


def lrs_for(case):
    _, o = inner_of(case)
    return [base.schedule_value(o["learningRate"], k) for k in range(case["steps"] + EXTRA_LRS)]


def nadam_mu(beta1, psi, t):
    """μ_t = β1·(1 − ½·0.96^(t·ψ)) (torch/optim/nadam.py)."""
    return beta1 * (1.0 - 0.5 * (0.96 ** (t * psi)))


# ---------------------------------------------------------------------------------------------
# Implementation 1: float64 torch transcriptions of the official sources


class TorchNAdam:
    """torch/optim/nadam.py `_single_tensor_nadam` @ 00c2d88d (mu_product fixed), per tensor."""

    def __init__(self, params, lams, o):
        self.params, self.lams, self.o = params, lams, o
        self.state = [{"step": 0, "mu_product": torch.tensor(1.0, dtype=torch.float64),
                       "exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)}
                      for p in params]

    @torch.no_grad()
    def step(self, lr):
        beta1, beta2 = self.o["betas"]
        eps, psi = self.o["epsilon"], self.o["momentumDecay"]
        for param, lam, st in zip(self.params, self.lams, self.state):
            grad = param.grad
            st["step"] += 1
            step = st["step"]
            bias_correction2 = 1 - beta2**step
            if lam != 0:
                if self.o["decoupledWeightDecay"]:  # torch ≥ 2.1
                    param.mul_(1 - lr * lam)
                else:
                    grad = grad.add(param, alpha=lam)
            mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * psi)))
            mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * psi)))
            st["mu_product"] *= mu
            st["exp_avg"].lerp_(grad, 1 - beta1)
            st["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = st["exp_avg_sq"].div(bias_correction2).sqrt()
            mu_product = st["mu_product"].item()
            mu_product_next = mu_product * mu_next
            denom.add_(eps)
            param.addcdiv_(grad, denom, value=(-lr * (1.0 - mu) / (1.0 - mu_product)))
            param.addcdiv_(st["exp_avg"], denom, value=(-lr * mu_next) / (1.0 - mu_product_next))

    def direction(self, i, t):
        """Update t's direction with its gradient term taken from m (g_t → m_t): see README."""
        st = self.state[i]
        assert st["step"] == t
        beta1, beta2 = self.o["betas"]
        psi = self.o["momentumDecay"]
        mu, mu_next = nadam_mu(beta1, psi, t), nadam_mu(beta1, psi, t + 1)
        prod = st["mu_product"].item()
        coef = (1 - mu) / (1 - prod) + mu_next / (1 - prod * mu_next)
        denom = st["exp_avg_sq"].div(1 - beta2**t).sqrt().add(self.o["epsilon"])
        return st["exp_avg"] * coef / denom


class TorchLion:
    """lion_pytorch/lion_pytorch.py `update_fn` @ 05258c93 (decoupled_weight_decay=False)."""

    def __init__(self, params, lams, o):
        self.params, self.lams, self.o = params, lams, o
        self.state = [{"exp_avg": torch.zeros_like(p)} for p in params]
        self.t = 0

    @torch.no_grad()
    def step(self, lr):
        self.t += 1
        beta1, beta2 = self.o["betas"]
        for p, wd, st in zip(self.params, self.lams, self.state):
            grad, exp_avg = p.grad, st["exp_avg"]
            p.data.mul_(1.0 - lr * wd)
            update = exp_avg.clone().mul_(beta1).add(grad, alpha=1.0 - beta1).sign_()
            p.add_(update, alpha=-lr)
            exp_avg.mul_(beta2).add_(grad, alpha=1.0 - beta2)

    def direction(self, i, t):
        """sign(β1·m + (1 − β1)·g) with g taken from m: sign(m)."""
        assert self.t == t
        return self.state[i]["exp_avg"].sign()


class TorchScheduleFreeAdamW:
    """schedulefree/adamw_schedulefree.py @ 70785b53, `step` with foreach=False, inner_momentum=0.

    The parameters hold y (train mode) throughout; `x()` is what `eval()` would put in them.
    """

    def __init__(self, params, lams, o):
        self.params, self.lams, self.o = params, lams, o
        self.k, self.lr_max, self.weight_sum = 0, -1.0, 0.0
        self.state = [{"z": torch.clone(p).detach(), "exp_avg_sq": torch.zeros_like(p)}
                      for p in params]

    @torch.no_grad()
    def step(self, group_lr):
        o = self.o
        eps = o["epsilon"]
        beta1, beta2 = o["betas"]
        k, r, warmup_steps, weight_lr_power = self.k, o["r"], o["warmupSteps"], o["weightLrPower"]
        if k < warmup_steps:
            sched = (k + 1) / warmup_steps
        else:
            sched = 1.0
        bias_correction2 = 1 - beta2 ** (k + 1)
        lr = group_lr * sched
        lr_max = self.lr_max = max(lr, self.lr_max)
        weight = ((k + 1) ** r) * (lr_max**weight_lr_power)
        weight_sum = self.weight_sum = self.weight_sum + weight
        try:
            ckp1 = weight / weight_sum
        except ZeroDivisionError:
            ckp1 = 0
        for p, decay, state in zip(self.params, self.lams, self.state):
            y = p
            grad = p.grad
            z, exp_avg_sq = state["z"], state["exp_avg_sq"]
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = exp_avg_sq.div(bias_correction2).sqrt_().add_(eps)
            grad_normalized = grad.div_(denom)
            if decay != 0:
                grad_normalized.add_(y, alpha=decay)
            y.lerp_(end=z, weight=ckp1)
            y.add_(grad_normalized, alpha=lr * (beta1 * (1 - ckp1) - 1))
            z.sub_(grad_normalized, alpha=lr)
        self.k = k + 1

    @torch.no_grad()
    def x(self):
        beta1 = self.o["betas"][0]
        return [p.lerp(st["z"], 1 - 1 / beta1) for p, st in zip(self.params, self.state)]


class TorchOptim:
    """torch.optim.AdamW / SGD (foreach=False), `group['lr']` set before each update."""

    def __init__(self, name, params, lams, o):
        self.name, self.o = name, o
        wd = float(o["weightDecay"])
        decayed = [p for p, lam in zip(params, lams) if lam != 0.0]
        plain = [p for p, lam in zip(params, lams) if lam == 0.0]
        groups = [g for g in ({"params": decayed}, {"params": plain, "weight_decay": 0.0})
                  if g["params"]]
        if name == "adamw":
            self.opt = torch.optim.AdamW(groups, lr=0.0, betas=tuple(o["betas"]),
                                         eps=o["epsilon"], weight_decay=wd,
                                         amsgrad=o["amsgrad"], foreach=False)
        elif name == "sgd":
            self.opt = torch.optim.SGD(groups, lr=0.0, momentum=o["momentum"],
                                       dampening=o["dampening"], weight_decay=wd,
                                       nesterov=o["nesterov"], foreach=False)
        else:
            raise ValueError(name)
        self.params = params

    def step(self, lr):
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.opt.step()

    def direction(self, i, t):
        st = self.opt.state[self.params[i]]
        if self.name == "adamw":
            assert int(st["step"]) == t
            b1, b2 = self.o["betas"]
            m_hat = st["exp_avg"] / (1 - b1**t)
            return m_hat / (st["exp_avg_sq"].sqrt() / math.sqrt(1 - b2**t) + self.o["epsilon"])
        assert self.o["momentum"] > 0, "sgd without momentum needs g_last; not used here"
        return st["momentum_buffer"]


def torch_optimizer(name, params, lams, o):
    if name == "nadam":
        return TorchNAdam(params, lams, o)
    if name == "lion":
        return TorchLion(params, lams, o)
    if name == "schedule-free-adamw":
        return TorchScheduleFreeAdamW(params, lams, o)
    return TorchOptim(name, params, lams, o)


def run_torch(case, lrs):
    name, o = inner_of(case)
    lams = lams_for(case)
    params = [torch.tensor(v["theta0"], dtype=torch.float64).reshape(v["shape"]).requires_grad_()
              for v in case["variables"]]
    consts = [[torch.tensor(v[k], dtype=torch.float64).reshape(v["shape"]) for k in "acq"]
              for v in case["variables"]]

    def loss_fn():
        total = torch.zeros((), dtype=torch.float64)
        for p, (a, c, q) in zip(params, consts):
            d = p - c
            total = total + (a / 2 * d**2 + q / 4 * d**4).sum()
        return total

    opt = torch_optimizer(name, params, lams, o)
    s = o.get("predictionSteps", 0)
    lookahead = case["optimizer"] == "lookahead"
    if lookahead:
        la = case["options"]
        slow = [p.detach().clone() for p in params]
    theta_hat, theta, losses = [], [], []
    for k in range(1, case["steps"] + 1):
        t = k - 1
        with torch.no_grad():
            saved = [p.detach().clone() for p in params]
            if s > 0 and t > 0:
                for i, p in enumerate(params):
                    a, b = base.torch_coefficients(lrs, t, s, lams[i], o["includeWeightDecay"],
                                                   o["scheduleAware"])
                    p.copy_(a * saved[i] - b * opt.direction(i, t))
        for p in params:
            p.grad = None
        loss = loss_fn()
        loss.backward()
        theta_hat.append([p.detach().flatten().tolist() for p in params])
        losses.append(loss.item())
        with torch.no_grad():
            for p, sv in zip(params, saved):
                p.copy_(sv)
        if "clipGlobalNorm" in o:
            torch.nn.utils.clip_grad_norm_(params, o["clipGlobalNorm"])
        opt.step(lrs[t])
        if lookahead and k % la["k"] == 0:
            with torch.no_grad():  # Algorithm 1: φ ← φ + α(θ − φ), θ ← φ
                for p, phi in zip(params, slow):
                    phi.add_(p.detach() - phi, alpha=la["alpha"])
                    p.copy_(phi)
        evaluated = opt.x() if name == "schedule-free-adamw" else params
        theta.append([p.detach().flatten().tolist() for p in evaluated])
    return {"thetaHat": theta_hat, "theta": theta, "loss": losses}


# ---------------------------------------------------------------------------------------------
# Implementation 2: plain numpy (flat arrays, analytic gradient, iterated prediction)


class NumpyRival(base.NumpyOptimizer):
    """NAdam and Lion on make_fixtures' numpy optimizer (its iterated `predict` is reused)."""

    def __init__(self, name, o, variables, dtype):
        super().__init__({"optimizer": name, "options": o, "variables": variables}, dtype)

    def update(self, thetas, grads, lr):
        o, kind = self.o, self.kind
        self.t += 1
        t = self.t
        b1, b2 = o["betas"]
        for i, (th, g) in enumerate(zip(thetas, grads)):
            lam = self.lams[i]
            if kind == "lion":
                th *= 1 - lr * lam
                th -= lr * np.sign(b1 * self.m[i] + (1 - b1) * g)
                self.m[i] = b2 * self.m[i] + (1 - b2) * g
                continue
            if o["decoupledWeightDecay"]:
                th *= 1 - lr * lam
            else:
                g = g + lam * th
            mus = [nadam_mu(b1, o["momentumDecay"], j) for j in range(1, t + 2)]
            prod, prod_next = math.prod(mus[:t]), math.prod(mus)
            self.m[i] = b1 * self.m[i] + (1 - b1) * g
            self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
            denom = np.sqrt(self.v[i]) / math.sqrt(1 - b2**t) + o["epsilon"]
            th -= lr * ((1 - mus[t - 1]) / (1 - prod)) * g / denom
            th -= lr * (mus[t] / (1 - prod_next)) * self.m[i] / denom

    def direction(self, i):
        o, t = self.o, self.t
        if self.kind == "lion":
            return np.sign(self.m[i])
        b1, b2 = o["betas"]
        mus = [nadam_mu(b1, o["momentumDecay"], j) for j in range(1, t + 2)]
        coef = (1 - mus[t - 1]) / (1 - math.prod(mus[:t])) + mus[t] / (1 - math.prod(mus))
        return coef * self.m[i] / (np.sqrt(self.v[i]) / math.sqrt(1 - b2**t) + o["epsilon"])


class NumpyScheduleFree:
    """schedulefree/adamw_schedulefree_reference.py @ 70785b53: explicit x, y, z."""

    def __init__(self, o, variables, dtype, lams):
        self.o, self.lams = o, lams
        self.z = [np.asarray(v["theta0"], dtype=dtype).copy() for v in variables]
        self.v = [np.zeros(len(v["theta0"]), dtype=dtype) for v in variables]
        self.k, self.lr_max, self.weight_sum = 0, -1.0, 0.0

    def gradient_point(self, xs):
        b1 = self.o["betas"][0]
        return [(1 - b1) * z + b1 * x for x, z in zip(xs, self.z)]

    def update(self, xs, grads, lr_group, ys):
        o, k = self.o, self.k
        b1, b2 = o["betas"]
        warm = o["warmupSteps"]
        lr = lr_group * ((k + 1) / warm if k < warm else 1.0)
        self.lr_max = max(self.lr_max, lr)
        weight = (k + 1) ** o["r"] * self.lr_max ** o["weightLrPower"]
        self.weight_sum += weight
        c = weight / self.weight_sum if self.weight_sum != 0 else 0.0
        for i, (x, g, y) in enumerate(zip(xs, grads, ys)):
            self.z[i] -= lr * self.lams[i] * y  # decay at y
            self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
            self.z[i] -= lr * g / (np.sqrt(self.v[i] / (1 - b2 ** (k + 1))) + o["epsilon"])
            x *= 1 - c
            x += c * self.z[i]
        self.k += 1


def numpy_inner(name, o, variables, dtype):
    if name in ("nadam", "lion"):
        return NumpyRival(name, o, variables, dtype)
    return base.NumpyOptimizer({"optimizer": name, "options": o, "variables": variables}, dtype)


def run_numpy(case, lrs, dtype=np.float64):
    name, o = inner_of(case)
    variables = case["variables"]
    thetas = [np.asarray(v["theta0"], dtype=dtype).copy() for v in variables]
    sf = name == "schedule-free-adamw"
    opt = NumpyScheduleFree(o, variables, dtype, lams_for(case)) if sf else numpy_inner(
        name, o, variables, dtype)
    lookahead = case["optimizer"] == "lookahead"
    slow = [th.copy() for th in thetas]
    theta_hat, theta, losses, clipped = [], [], [], 0
    for k in range(1, case["steps"] + 1):
        hat = opt.gradient_point(thetas) if sf else opt.predict(thetas, lrs, is_decoupled(name, o))
        loss, grads = base.np_loss_grad(hat, variables)
        if "clipGlobalNorm" in o:
            total = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
            coef = o["clipGlobalNorm"] / (total + 1e-6)
            if coef < 1:
                grads = [g * coef for g in grads]
                clipped += 1
        if sf:
            opt.update(thetas, grads, lrs[k - 1], hat)
        else:
            opt.update(thetas, grads, lrs[k - 1])
        if lookahead and k % case["options"]["k"] == 0:
            alpha = case["options"]["alpha"]
            for i in range(len(thetas)):
                slow[i] = (1 - alpha) * slow[i] + alpha * thetas[i]
                thetas[i][:] = slow[i]
        theta_hat.append([h.tolist() for h in hat])
        theta.append([th.tolist() for th in thetas])
        losses.append(loss)
    return {"thetaHat": theta_hat, "theta": theta, "loss": losses, "clippedUpdates": clipped}


# ---------------------------------------------------------------------------------------------
# Cases


def build_cases():
    cases = []
    counter = [0]

    def add(name, optimizer, opts, shapes=None, names=None):
        counter[0] += 1
        shapes = shapes or base.SHAPE_SETS[counter[0] % len(base.SHAPE_SETS)]
        variables = base.make_variables(5000 + counter[0], shapes, names)
        cases.append({"name": name, "optimizer": optimizer, "options": opts,
                      "variables": variables, "steps": STEPS})

    cosine = {"kind": "cosine", "initial": 0.03, "totalSteps": 50, "final": 0.001}
    step_sched = {"kind": "step", "initial": 0.03, "milestones": [15, 35], "gamma": 0.5}

    # NAdam: s 0–3 × {no decay, L2}; decoupled decay (torch ≥ 2.1) with and without it in θ̂.
    # The lrs are those where a float32 run stays within FLOAT32_TOL: on this problem NAdam
    # amplifies rounding wherever a coordinate's gradient vanishes (its raw-gradient term weighs
    # (1 − μ_t)/(1 − Π μ) ≈ 0.55 early on), e.g. s = 1 with L2 drifts by 2e-2 at lr 0.01.
    nadam_sets = (("nodecay", (0.03, 0.03, 0.03, 0.015), {}),
                  ("l2", (0.02, 0.005, 0.02, 0.02 / 3), {"weightDecay": 0.05}))
    for label, lrs, extra in nadam_sets:
        for s in range(4):
            add(f"nadam-s{s}-{label}", "nadam", options("nadam", lrs[s], s, **extra))
    add("nadam-s1-decoupled", "nadam",
        options("nadam", 0.01, 1, weightDecay=0.1, decoupledWeightDecay=True))
    add("nadam-s2-decoupled-includewd", "nadam",
        options("nadam", 0.03, 2, weightDecay=0.2, decoupledWeightDecay=True,
                includeWeightDecay=True))
    add("nadam-s1-momentumdecay0.05", "nadam", options("nadam", 0.03, 1, momentumDecay=0.05))
    add("nadam-s2-scheduleaware-cosine", "nadam",
        options("nadam", cosine, 2, scheduleAware=True, weightDecay=0.01))
    add("nadam-s1-clip", "nadam", options("nadam", 0.03, 1, clipGlobalNorm=0.5))
    add("nadam-s1-exclude-bias", "nadam",
        options("nadam", 0.005, 1, weightDecay=0.1, excludeFromWeightDecay=["bias"]),
        shapes=[[2, 3], [3]], names=["kernel", "bias"])

    # Lion: its lr is 3–10× smaller than AdamW's for the same problem.
    for label, lr, extra in (("nodecay", 0.01, {}), ("decay", 0.01, {"weightDecay": 0.5})):
        for s in range(4):
            add(f"lion-s{s}-{label}", "lion", options("lion", lr, s, **extra))
    add("lion-s2-includewd", "lion",
        options("lion", 0.01, 2, weightDecay=1.0, includeWeightDecay=True))
    add("lion-s1-betas", "lion", options("lion", 0.008, 1, betas=[0.95, 0.98]))
    add("lion-s1-schedule-step", "lion",
        options("lion", {**step_sched, "initial": 0.01}, 1, weightDecay=0.3))
    add("lion-s1-clip", "lion", options("lion", 0.01, 1, clipGlobalNorm=0.5))

    # Schedule-Free AdamW: warmup, r, weightLrPower, decay at y.
    sf = "schedule-free-adamw"
    add(f"{sf}-nodecay", sf, options(sf, 0.05))
    add(f"{sf}-decay", sf, options(sf, 0.05, weightDecay=0.1))
    add(f"{sf}-warmup", sf, options(sf, 0.03, warmupSteps=10, weightDecay=0.05))
    add(f"{sf}-r1-power0", sf, options(sf, 0.05, r=1.0, weightLrPower=0.0))
    add(f"{sf}-warmup-r0.5-beta0.95", sf,
        options(sf, 0.04, warmupSteps=20, r=0.5, betas=[0.95, 0.99], weightDecay=0.02))
    add(f"{sf}-schedule-exponential", sf,
        options(sf, {"kind": "exponential", "initial": 0.05, "gamma": 0.98}, warmupSteps=5))

    # Lookahead (k, α) over the package's optimizers, with and without their prediction.
    adamw = lambda lr, s=0, **e: options("adamw", lr, s, **e)  # noqa: E731
    add("lookahead-adamw", "lookahead",
        lookahead_options("adamw", adamw(0.05, weightDecay=0.0)))
    add("lookahead-adamw-decay-k3-alpha0.8", "lookahead",
        lookahead_options("adamw", adamw(0.03, weightDecay=0.1), k=3, alpha=0.8))
    add("lookahead-adamw-s1", "lookahead", lookahead_options("adamw", adamw(0.03, 1)))
    add("lookahead-adamw-s2-k1-alpha0.3", "lookahead",
        lookahead_options("adamw", adamw(0.03, 2), k=1, alpha=0.3))
    add("lookahead-sgd-momentum-s1", "lookahead",
        lookahead_options("sgd", options("sgd", 0.05, 1, momentum=0.9), k=6, alpha=0.5))
    add("lookahead-nadam-s1", "lookahead",
        lookahead_options("nadam", options("nadam", 0.03, 1)))
    add("lookahead-lion", "lookahead",
        lookahead_options("lion", options("lion", 0.01, 0, weightDecay=0.3), k=4))
    return cases


# ---------------------------------------------------------------------------------------------
# Checks beyond the agreement of the two implementations


def check_lookahead_alpha1(case, lrs) -> int:
    """With α = 1, Lookahead is its inner optimizer (the slow weights jump to the fast ones)."""
    inner_name, inner_o = inner_of(case)
    one = copy.deepcopy(case)
    one["options"]["alpha"] = 1.0
    plain = {**copy.deepcopy(case), "optimizer": inner_name, "options": inner_o}
    a, b = run_numpy(one, lrs), run_numpy(plain, lrs)
    d = base.max_diff(np.concatenate([base.flat(e) for e in a["theta"]]),
                      np.concatenate([base.flat(e) for e in b["theta"]]))
    assert d < 1e-13, f"{case['name']}: α = 1 differs from the inner optimizer by {d:.3e}"
    return 1


def check_schedule_free_average(case, lrs) -> int:
    """r = 0, weightLrPower = 0, no warmup: c_{k} = 1/k, so x_k is the mean of z_1 … z_k."""
    o = copy.deepcopy(case["options"])
    o.update(r=0.0, weightLrPower=0.0, warmupSteps=0)
    variables = case["variables"]
    opt = NumpyScheduleFree(o, variables, np.float64, lams_for(case))
    xs = [np.asarray(v["theta0"], dtype=np.float64).copy() for v in variables]
    zsum = [np.zeros_like(x) for x in xs]
    for k in range(1, case["steps"] + 1):
        ys = opt.gradient_point(xs)
        _, grads = base.np_loss_grad(ys, variables)
        opt.update(xs, grads, lrs[k - 1], ys)
        for i, x in enumerate(xs):
            zsum[i] += opt.z[i]
            assert base.max_diff(x, zsum[i] / k) < 1e-12, f"{case['name']}: x is not the mean"
    return case["steps"]


def check_lion_prediction(case, res, lrs) -> int:
    """Lion's θ̂ moves every coordinate by exactly 0 or B = Σ η_i (Δθ = sign(m)), without decay."""
    name, o = inner_of(case)
    if name != "lion" or o["predictionSteps"] == 0 or o["includeWeightDecay"]:
        return 0
    n = 0
    for k in range(2, case["steps"] + 1):
        _, b = base.torch_coefficients(lrs, k - 1, o["predictionSteps"], 0.0, False,
                                       o["scheduleAware"])
        moved = np.abs(base.flat(res["thetaHat"][k - 1]) - base.flat(res["theta"][k - 2]))
        assert np.all(np.minimum(moved, np.abs(moved - b)) < 1e-12), f"{case['name']} k={k}"
        n += 1
    return n


def main() -> int:
    start = time.time()
    torch.set_num_threads(1)
    cases = build_cases()
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    out_cases, worst, worst32, extra_checks = [], 0.0, 0.0, 0
    for case in cases:
        name, o = inner_of(case)
        if o.get("includeWeightDecay"):
            assert is_decoupled(name, o), f"{case['name']}: includeWeightDecay needs decoupling"
        lrs = lrs_for(case)
        ref, ind = run_torch(case, lrs), run_numpy(case, lrs)
        for key in ("thetaHat", "theta", "loss"):
            a = np.concatenate([base.flat(e) for e in ref[key]]) if key != "loss" else ref[key]
            b = np.concatenate([base.flat(e) for e in ind[key]]) if key != "loss" else ind[key]
            d = base.max_diff(a, b)
            worst = max(worst, d)
            assert d < AGREE_TOL, f"{case['name']}: torch and numpy differ in {key} by {d:.3e}"
        for entry in ref["theta"] + ref["thetaHat"]:
            x = base.flat(entry)
            assert np.all(np.isfinite(x)) and np.max(np.abs(x)) < 5, f"{case['name']} diverges"
        if "clipGlobalNorm" in o:
            assert ind["clippedUpdates"] > 0, f"{case['name']}: clipGlobalNorm never clips"
        if case["optimizer"] == "lookahead":
            extra_checks += check_lookahead_alpha1(case, lrs)
        if name == "schedule-free-adamw":
            extra_checks += check_schedule_free_average(case, lrs)
        extra_checks += check_lion_prediction(case, ref, lrs)
        f32 = run_numpy(case, lrs, np.float32)
        dev32 = max(base.max_diff(base.flat(x), base.flat(y))
                    for x, y in zip(ref["theta"] + ref["thetaHat"], f32["theta"] + f32["thetaHat"]))
        assert dev32 < FLOAT32_TOL, f"{case['name']}: float32 run drifts by {dev32:.2e}"
        worst32 = max(worst32, dev32)
        extra = {"clippedUpdates": ind["clippedUpdates"]} if "clipGlobalNorm" in o else {}
        out_cases.append({**case, "lrs": lrs, **ref, **extra, "float32Deviation": dev32})

    doc = {"generator": "tools/reference/make_rivals.py", "torch": torch.__version__,
           "numpy": np.__version__, "dtype": "float64", "cases": out_cases}
    text = json.dumps(doc, separators=(",", ":"), allow_nan=False)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(OUT_PATH), prefix=".rivals.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, OUT_PATH)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    print(f"{len(out_cases)} cases, {STEPS} steps each; torch {torch.__version__}")
    print(f"max |torch - numpy| over all θ̂, θ, loss: {worst:.3e} (tolerance {AGREE_TOL:g})")
    print(f"max |float32 run - float64| per case: {worst32:.2e} (limit {FLOAT32_TOL:g})")
    print(f"extra identity checks passed: {extra_checks}")
    print(f"wrote {os.path.relpath(OUT_PATH, base.REPO)} ({len(text) + 1} bytes) "
          f"in {time.time() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
