#!/usr/bin/env python3
"""Float64 reference trajectories for the optimizers, written to test/fixtures/optimizers.json.

Every case is computed twice: once with torch.optim (AdamW, Adam, SGD, RMSprop; AdaBelief by hand
in torch) plus the weight prediction read from `optimizer.state`, and once with an independent
plain-numpy implementation. The two must agree to 1e-12, the METHOD.md section 4 golden values
must be reproduced to 1e-9, and the one-step identities of METHOD.md section 2 must hold, before
anything is written. Semantics: tools/reference/README.md.

Run from the repository root:  /usr/bin/python3 tools/reference/make_fixtures.py
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

STEPS = 60
EXTRA_LRS = 3  # lrs holds η_1 … η_{steps+3}, enough for an s = 3 scheduleAware prediction
AGREE_TOL = 1e-12
# A case is only useful to float32 code (TF.js) if rounding does not get amplified along its
# trajectory: the same rules run in float32 must stay this close to float64.
FLOAT32_TOL = 1e-5
GOLDEN_TOL = 1e-9
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_PATH = os.path.join(REPO, "test", "fixtures", "optimizers.json")

DEFAULTS = {
    "adamw": {"betas": [0.9, 0.999], "epsilon": 1e-8, "weightDecay": 1e-2, "amsgrad": False},
    "adam": {"betas": [0.9, 0.999], "epsilon": 1e-8, "weightDecay": 0.0, "amsgrad": False},
    "sgd": {"momentum": 0.0, "dampening": 0.0, "nesterov": False, "weightDecay": 0.0},
    "rmsprop": {
        "alpha": 0.99,
        "epsilon": 1e-8,
        "weightDecay": 0.0,
        "momentum": 0.0,
        "centered": False,
    },
    "adabelief": {
        "betas": [0.9, 0.999],
        "epsilon": 1e-16,
        "weightDecay": 0.0,
        "decoupledWeightDecay": True,
        "amsgrad": False,
    },
}
PREDICTION_DEFAULTS = {"predictionSteps": 0, "includeWeightDecay": False, "scheduleAware": False}
DECOUPLED = {"adamw"}  # plus adabelief when decoupledWeightDecay


# ---------------------------------------------------------------------------------------------
# Schedules (shared by both implementations: they are data, and the fixture records the lrs)


def schedule_value(spec, step: int) -> float:
    if isinstance(spec, (int, float)):
        return float(spec)
    kind = spec["kind"]
    if kind == "constant":
        return float(spec["value"])
    if kind == "step":
        n = sum(1 for m in spec["milestones"] if m <= step)
        return spec["initial"] * spec["gamma"] ** n
    if kind == "exponential":
        return spec["initial"] * spec["gamma"] ** step
    if kind == "cosine":
        final = spec.get("final", 0.0)
        if step >= spec["totalSteps"]:
            return float(final)
        cos = 1 + math.cos(math.pi * step / spec["totalSteps"])
        return final + (spec["initial"] - final) * cos / 2
    if kind == "warmup":
        if step < spec["warmupSteps"]:
            return schedule_value(spec["then"], 0) * (step + 1) / spec["warmupSteps"]
        return schedule_value(spec["then"], step - spec["warmupSteps"])
    if kind == "sequence":
        bounds = spec["boundaries"]
        i = sum(1 for b in bounds if b <= step)
        start = 0 if i == 0 else bounds[i - 1]
        return schedule_value(spec["schedules"][i], step - start)
    raise ValueError(f"unknown schedule kind {kind!r}")


def lrs_for(case) -> list[float]:
    spec = case["options"]["learningRate"]
    return [schedule_value(spec, k) for k in range(case["steps"] + EXTRA_LRS)]


def weight_decays(case) -> list[float]:
    """λ per variable: the option's value, 0 for excluded names."""
    o = case["options"]
    excluded = set(o.get("excludeFromWeightDecay", []))
    return [0.0 if v["name"] in excluded else float(o["weightDecay"]) for v in case["variables"]]


def is_decoupled(case) -> bool:
    o = case["options"]
    return case["optimizer"] in DECOUPLED or (
        case["optimizer"] == "adabelief" and o["decoupledWeightDecay"]
    )


# ---------------------------------------------------------------------------------------------
# Implementation 1: torch.optim (float64, foreach=False) + prediction read from optimizer.state


def torch_coefficients(lrs, t, s, lam, include_decay, schedule_aware):
    """Closed form of s decayed steps with a fixed direction: θ̂ = A·θ − B·Δθ."""
    etas = [lrs[t + i] if schedule_aware else lrs[t] for i in range(s)]
    if not include_decay:
        return 1.0, math.fsum(etas)
    factors = [1 - eta * lam for eta in etas]
    a = math.prod(factors)
    b = sum(etas[i] * math.prod(factors[i + 1 :]) for i in range(s))
    return a, b


class TorchAdaBelief:
    """adabelief-pytorch 0.2.0 without rectification, in torch float64, one state per tensor."""

    def __init__(self, params, lams, o):
        self.params, self.lams = params, lams
        self.b1, self.b2 = o["betas"]
        self.eps, self.amsgrad = o["epsilon"], o["amsgrad"]
        self.decoupled = o["decoupledWeightDecay"]
        self.t = 0
        self.state = [
            {
                "exp_avg": torch.zeros_like(p),
                "exp_avg_var": torch.zeros_like(p),
                "max_exp_avg_var": torch.zeros_like(p),
            }
            for p in params
        ]

    @torch.no_grad()
    def step(self, lr):
        self.t += 1
        bc1, bc2 = 1 - self.b1**self.t, 1 - self.b2**self.t
        for p, lam, st in zip(self.params, self.lams, self.state):
            g = p.grad.clone()
            if self.decoupled:
                p.mul_(1 - lr * lam)
            else:
                g.add_(p, alpha=lam)
            st["exp_avg"].mul_(self.b1).add_(g, alpha=1 - self.b1)
            resid = g - st["exp_avg"]
            st["exp_avg_var"].mul_(self.b2).addcmul_(resid, resid, value=1 - self.b2).add_(self.eps)
            var = st["exp_avg_var"]
            if self.amsgrad:
                torch.maximum(st["max_exp_avg_var"], var, out=st["max_exp_avg_var"])
                var = st["max_exp_avg_var"]
            denom = (var.sqrt() / math.sqrt(bc2)).add_(self.eps)
            p.addcdiv_(st["exp_avg"], denom, value=-lr / bc1)


def run_torch(case, lrs):
    name, o = case["optimizer"], case["options"]
    s = o["predictionSteps"]
    lams = weight_decays(case)
    params = [
        torch.tensor(v["theta0"], dtype=torch.float64).reshape(v["shape"]).requires_grad_()
        for v in case["variables"]
    ]
    consts = [
        [torch.tensor(v[k], dtype=torch.float64).reshape(v["shape"]) for k in ("a", "c", "q")]
        for v in case["variables"]
    ]

    def loss_fn():
        total = torch.zeros((), dtype=torch.float64)
        for p, (a, c, q) in zip(params, consts):
            d = p - c
            total = total + (a / 2 * d**2 + q / 4 * d**4).sum()
        return total

    # Exclusion from decay = a second param group with weight_decay 0.
    decayed = [p for p, lam in zip(params, lams) if lam != 0.0]
    plain = [p for p, lam in zip(params, lams) if lam == 0.0]
    groups = [{"params": decayed}, {"params": plain, "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    wd = float(o["weightDecay"])
    if name == "adamw":
        opt = torch.optim.AdamW(groups, lr=lrs[0], betas=tuple(o["betas"]), eps=o["epsilon"],
                                weight_decay=wd, amsgrad=o["amsgrad"], foreach=False)
    elif name == "adam":
        opt = torch.optim.Adam(groups, lr=lrs[0], betas=tuple(o["betas"]), eps=o["epsilon"],
                               weight_decay=wd, amsgrad=o["amsgrad"], foreach=False)
    elif name == "sgd":
        opt = torch.optim.SGD(groups, lr=lrs[0], momentum=o["momentum"], dampening=o["dampening"],
                              weight_decay=wd, nesterov=o["nesterov"], foreach=False)
    elif name == "rmsprop":
        opt = torch.optim.RMSprop(groups, lr=lrs[0], alpha=o["alpha"], eps=o["epsilon"],
                                  weight_decay=wd, momentum=o["momentum"], centered=o["centered"],
                                  foreach=False)
    elif name == "adabelief":
        opt = TorchAdaBelief(params, lams, o)
    else:
        raise ValueError(name)

    g_last = [None] * len(params)  # gradient used by the last update (after clipping and L2)

    def direction(i, p, t):
        if name in ("adamw", "adam"):
            st = opt.state[p]
            assert int(st["step"]) == t, (int(st["step"]), t)
            b1, b2 = o["betas"]
            m_hat = st["exp_avg"] / (1 - b1**t)
            return m_hat / (st["exp_avg_sq"].sqrt() / math.sqrt(1 - b2**t) + o["epsilon"])
        if name == "adabelief":
            st = opt.state[i]
            assert opt.t == t
            b1, b2 = o["betas"]
            m_hat = st["exp_avg"] / (1 - b1**t)
            return m_hat / (st["exp_avg_var"].sqrt() / math.sqrt(1 - b2**t) + o["epsilon"])
        if name == "sgd":
            return opt.state[p]["momentum_buffer"] if o["momentum"] > 0 else g_last[i]
        if name == "rmsprop":
            st = opt.state[p]
            assert int(st["step"]) == t
            if o["momentum"] > 0:
                return st["momentum_buffer"]
            if o["centered"]:
                avg = st["square_avg"].addcmul(st["grad_avg"], st["grad_avg"], value=-1).sqrt()
            else:
                avg = st["square_avg"].sqrt()
            return g_last[i] / (avg + o["epsilon"])
        raise ValueError(name)

    theta_hat, theta, losses = [], [], []
    for k in range(1, case["steps"] + 1):
        t = k - 1
        with torch.no_grad():
            saved = [p.detach().clone() for p in params]
            if s > 0 and t > 0:
                for i, p in enumerate(params):
                    a, b = torch_coefficients(lrs, t, s, lams[i], o["includeWeightDecay"],
                                              o["scheduleAware"])
                    p.copy_(a * saved[i] - b * direction(i, p, t))
        for p in params:
            p.grad = None
        loss = loss_fn()
        loss.backward()
        theta_hat.append([p.detach().flatten().tolist() for p in params])
        losses.append(loss.item())
        with torch.no_grad():
            for p, sv in zip(params, saved):
                p.copy_(sv)  # restore by copy, never by adding the delta back
        if "clipGlobalNorm" in o:
            torch.nn.utils.clip_grad_norm_(params, o["clipGlobalNorm"])
        if name in ("sgd", "rmsprop"):
            g_last = [(p.grad + lam * p.detach()).clone() for p, lam in zip(params, lams)]
        if name == "adabelief":
            opt.step(lrs[t])
        else:
            for g in opt.param_groups:
                g["lr"] = lrs[t]
            opt.step()
        theta.append([p.detach().flatten().tolist() for p in params])
    return {"thetaHat": theta_hat, "theta": theta, "loss": losses}


# ---------------------------------------------------------------------------------------------
# Implementation 2: plain numpy, flat float64 arrays, analytic gradient, iterated prediction


def np_loss_grad(thetas, variables):
    loss, grads = 0.0, []
    for th, v in zip(thetas, variables):
        a, c, q = (np.asarray(v[k], dtype=th.dtype) for k in ("a", "c", "q"))
        d = th - c
        loss += float(np.sum(0.5 * a * d * d + 0.25 * q * d**4))
        grads.append(a * d + q * d**3)
    return loss, grads


class NumpyOptimizer:
    def __init__(self, case, dtype):
        self.kind, self.o = case["optimizer"], case["options"]
        self.lams = weight_decays(case)
        n = [len(v["theta0"]) for v in case["variables"]]
        zeros = lambda: [np.zeros(k, dtype=dtype) for k in n]  # noqa: E731
        self.m, self.v, self.vmax, self.gavg, self.buf = zeros(), zeros(), zeros(), zeros(), zeros()
        self.g_last = zeros()
        self.t = 0

    def update(self, thetas, grads, lr):
        o, kind = self.o, self.kind
        self.t += 1
        t = self.t
        for i, (th, g) in enumerate(zip(thetas, grads)):
            lam = self.lams[i]
            if kind == "adamw" or (kind == "adabelief" and o["decoupledWeightDecay"]):
                th *= 1 - lr * lam
            else:
                g = g + lam * th  # L2 (coupled) decay
            self.g_last[i] = g.copy()
            if kind in ("adamw", "adam", "adabelief"):
                b1, b2 = o["betas"]
                eps = o["epsilon"]
                self.m[i] = b1 * self.m[i] + (1 - b1) * g
                if kind == "adabelief":
                    r = g - self.m[i]
                    self.v[i] = b2 * self.v[i] + (1 - b2) * r * r + eps
                else:
                    self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
                second = self.v[i]
                if o["amsgrad"]:
                    self.vmax[i] = np.maximum(self.vmax[i], self.v[i])
                    second = self.vmax[i]
                denom = np.sqrt(second) / math.sqrt(1 - b2**t) + eps
                th -= (lr / (1 - b1**t)) * self.m[i] / denom
            elif kind == "sgd":
                mu = o["momentum"]
                step = g
                if mu > 0:
                    if t == 1:
                        self.buf[i] = g.copy()  # torch: the first update skips dampening
                    else:
                        self.buf[i] = mu * self.buf[i] + (1 - o["dampening"]) * g
                    step = g + mu * self.buf[i] if o["nesterov"] else self.buf[i]
                th -= lr * step
            elif kind == "rmsprop":
                al = o["alpha"]
                self.v[i] = al * self.v[i] + (1 - al) * g * g
                if o["centered"]:
                    self.gavg[i] = al * self.gavg[i] + (1 - al) * g
                avg = self.avg(i)
                if o["momentum"] > 0:
                    self.buf[i] = o["momentum"] * self.buf[i] + g / avg
                    th -= lr * self.buf[i]
                else:
                    th -= lr * g / avg
            else:
                raise ValueError(kind)

    def avg(self, i):
        v = self.v[i] - self.gavg[i] ** 2 if self.o["centered"] else self.v[i]
        return np.sqrt(v) + self.o["epsilon"]

    def direction(self, i):
        o, kind, t = self.o, self.kind, self.t
        if kind in ("adamw", "adam", "adabelief"):
            b1, b2 = o["betas"]
            # v (or s), never vmax: the prediction ignores AMSGrad.
            return (self.m[i] / (1 - b1**t)) / (np.sqrt(self.v[i] / (1 - b2**t)) + o["epsilon"])
        if kind == "sgd":
            return self.buf[i] if o["momentum"] > 0 else self.g_last[i]
        if kind == "rmsprop":
            return self.buf[i] if o["momentum"] > 0 else self.g_last[i] / self.avg(i)
        raise ValueError(kind)

    def predict(self, thetas, lrs, decoupled):
        o = self.o
        s = o["predictionSteps"]
        if s == 0 or self.t == 0:
            return [th.copy() for th in thetas]
        out = []
        for i, th in enumerate(thetas):
            d = self.direction(i)
            lam = self.lams[i] if o["includeWeightDecay"] and decoupled else 0.0
            x = th.copy()
            for j in range(1, s + 1):  # literally apply s steps with Δθ held fixed
                eta = lrs[self.t + j - 1] if o["scheduleAware"] else lrs[self.t]
                x = (1 - eta * lam) * x - eta * d
            out.append(x)
        return out


def run_numpy(case, lrs, dtype=np.float64):
    """dtype float32 is only used to measure how far a float32 run (TF.js) drifts from float64."""
    o = case["options"]
    opt = NumpyOptimizer(case, dtype)
    thetas = [np.asarray(v["theta0"], dtype=dtype).copy() for v in case["variables"]]
    decoupled = is_decoupled(case)
    theta_hat, theta, losses, clipped = [], [], [], 0
    for k in range(1, case["steps"] + 1):
        hat = opt.predict(thetas, lrs, decoupled)
        loss, grads = np_loss_grad(hat, case["variables"])
        if "clipGlobalNorm" in o:
            total = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
            coef = o["clipGlobalNorm"] / (total + 1e-6)
            if coef < 1:
                grads = [g * coef for g in grads]
                clipped += 1
        opt.update(thetas, grads, lrs[k - 1])
        theta_hat.append([h.tolist() for h in hat])
        theta.append([th.tolist() for th in thetas])
        losses.append(loss)
    return {"thetaHat": theta_hat, "theta": theta, "loss": losses, "clippedUpdates": clipped}


# ---------------------------------------------------------------------------------------------
# Checks


def max_diff(x, y) -> float:
    return float(np.max(np.abs(np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64))))


def flat(entry):
    return np.concatenate([np.asarray(v, dtype=np.float64) for v in entry])


def check_identity(case, res, lrs):
    """METHOD.md §2: with a constant lr, θ̂_{t+1} = θ_t + s·(θ_t − (1 − ηλ_dec)·θ_{t−1}).

    Holds whenever the last update was θ_t = (1 − ηλ_dec)·θ_{t−1} − η·Δθ_t with the same Δθ the
    prediction uses: every case except AMSGrad (update uses vmax), Nesterov (update adds μ·b),
    includeWeightDecay, and non-constant schedules. Returns the number of steps checked.
    """
    o = case["options"]
    s = o["predictionSteps"]
    if s == 0 or o.get("amsgrad"):
        return 0
    if o.get("nesterov") or o["includeWeightDecay"] or len(set(lrs)) != 1:
        return 0
    eta = lrs[0]
    lams = weight_decays(case) if is_decoupled(case) else [0.0] * len(case["variables"])
    for k in range(3, case["steps"] + 1):  # θ̂_k uses θ_{k−1} and θ_{k−2}
        prev, prev2, hat = res["theta"][k - 2], res["theta"][k - 3], res["thetaHat"][k - 1]
        for i in range(len(hat)):
            p, p2 = np.asarray(prev[i]), np.asarray(prev2[i])
            want = p + s * (p - (1 - eta * lams[i]) * p2)
            d = max_diff(hat[i], want)
            assert d < 1e-12, f"{case['name']}: identity fails at k={k}, var {i}: {d:.3e}"
    return case["steps"] - 2


GOLDEN = {  # METHOD.md §4: k → (θ̂ or None, θ)
    0: {
        1: (None, [0.599499998000, -0.399699999286, 0.699200006667]),
        2: (None, [0.697722947467, -0.498609055872, 0.601511478767]),
        3: (None, [0.793378658460, -0.596073157031, 0.511408047719]),
        5: (None, [0.969060901972, -0.783070826943, 0.382115567641]),
    },
    1: {
        1: ([0.5, -0.3, 0.8], [0.599499998000, -0.399699999286, 0.699200006667]),
        2: ([0.699499996000, -0.499699998571, 0.599200013333],
            [0.694671037454, -0.497088486469, 0.611513353810]),
        3: ([0.790441576906, -0.594876673652, 0.524525900960],
            [0.785254790408, -0.592201338330, 0.538914068256]),
        5: ([0.953853228978, -0.776703025153, 0.433158780021],
            [0.943664498638, -0.771707695323, 0.452985455998]),
    },
    2: {
        2: ([0.799499994000, -0.599699997857, 0.499200020000],
            [0.688796079086, -0.494414052260, 0.631693756124]),
        5: ([0.991774259143, -0.847885947184, 0.466845424243],
            [0.906360909321, -0.754150789994, 0.515749255059]),
    },
}


def check_golden(case, res) -> int:
    s = case["options"]["predictionSteps"]
    n = 0
    for k, (hat, th) in GOLDEN[s].items():
        assert max_diff(res["theta"][k - 1][0], th) < GOLDEN_TOL, f"{case['name']} θ at k={k}"
        n += 1
        if hat is not None:
            d = max_diff(res["thetaHat"][k - 1][0], hat)
            assert d < GOLDEN_TOL, f"{case['name']} θ̂ k={k}"
            n += 1
    return n


# ---------------------------------------------------------------------------------------------
# Cases

SHAPE_SETS = [
    [[3]],
    [[2, 3]],
    [[4, 1]],
    [[5]],
    [[3], [2]],
    [[4, 1], [2]],
    [[2], [3], [1]],
]


def make_variables(seed, shapes, names=None):
    rng = np.random.default_rng(seed)
    names = names or [f"w{i}" for i in range(len(shapes))]
    out = []
    for name, shape in zip(names, shapes):
        n = int(np.prod(shape))
        out.append({
            "name": name,
            "shape": list(shape),
            "theta0": rng.uniform(-1, 1, n).tolist(),
            "a": rng.uniform(0.5, 3, n).tolist(),
            "c": rng.uniform(-1, 1, n).tolist(),
            "q": rng.uniform(0, 0.5, n).tolist(),
        })
    return out


def options(optimizer, lr, s=0, **extra):
    o = {"learningRate": lr, **copy.deepcopy(DEFAULTS[optimizer]), **PREDICTION_DEFAULTS}
    o["predictionSteps"] = s
    for k, v in extra.items():
        assert k in o or k in ("clipGlobalNorm", "excludeFromWeightDecay"), k
        o[k] = v
    return o


def build_cases():
    cases = []
    counter = [0]

    def add(name, optimizer, opts, shapes=None, variables=None, names=None):
        counter[0] += 1
        if variables is None:
            shapes = shapes or SHAPE_SETS[counter[0] % len(SHAPE_SETS)]
            variables = make_variables(1000 + counter[0], shapes, names)
        cases.append({"name": name, "optimizer": optimizer, "options": opts,
                      "variables": variables, "steps": STEPS})

    golden_var = [{"name": "w0", "shape": [3], "theta0": [0.5, -0.3, 0.8], "a": [1.0, 2.0, 0.5],
                   "c": [1.0, -1.0, 0.5], "q": [0.0, 0.0, 0.0]}]
    for s in (0, 1, 2):
        add(f"method-golden-s{s}", "adamw", options("adamw", 0.1, s, weightDecay=0.01),
            variables=copy.deepcopy(golden_var))

    # Adam family: s × {plain, decay, amsgrad+decay}, plus amsgrad without decay.
    adam_sets = {
        "adamw": [("nodecay", 0.05, {"weightDecay": 0.0}), ("decay", 0.02, {"weightDecay": 0.1}),
                  ("amsgrad-decay", 0.01, {"weightDecay": 0.05, "amsgrad": True})],
        "adam": [("nodecay", 0.03, {}), ("decay", 0.01, {"weightDecay": 0.05}),
                 ("amsgrad-decay", 0.05, {"weightDecay": 0.02, "amsgrad": True})],
        "adabelief": [("nodecay", 0.02, {}), ("decay", 0.05, {"weightDecay": 0.1}),
                      ("amsgrad-decay", 0.01, {"weightDecay": 0.05, "amsgrad": True})],
    }
    for opt, sets in adam_sets.items():
        for label, lr, extra in sets:
            for s in (1, 3) if label == "amsgrad-decay" else range(4):
                add(f"{opt}-s{s}-{label}", opt, options(opt, lr, s, **extra))
        add(f"{opt}-s1-amsgrad-nodecay", opt,
            options(opt, 0.03, 1, amsgrad=True, weightDecay=0.0))
    # ε = 1e-16 hides the ε that AdaBelief adds into s every step; 1e-8 makes it visible.
    add("adabelief-s1-eps1e-8", "adabelief", options("adabelief", 0.02, 1, epsilon=1e-8))
    for s in (1, 2):
        add(f"adabelief-s{s}-coupled-decay", "adabelief",
            options("adabelief", 0.03, s, weightDecay=0.05, decoupledWeightDecay=False))

    sgd_sets = [("plain", 0.05, {}), ("momentum", 0.05, {"momentum": 0.9}),
                ("nesterov-l2", 0.03, {"momentum": 0.9, "nesterov": True, "weightDecay": 0.01}),
                ("dampening", 0.05, {"momentum": 0.9, "dampening": 0.1, "weightDecay": 0.02})]
    rms_sets = [("plain", 0.01, {}), ("momentum", 0.003, {"momentum": 0.9}),
                ("centered-l2", 0.01, {"centered": True, "weightDecay": 0.01}),
                ("centered-momentum", 0.002, {"centered": True, "momentum": 0.5})]
    for opt, sets in (("sgd", sgd_sets), ("rmsprop", rms_sets)):
        for label, lr, extra in sets:
            for s in (1, 2) if label in ("dampening", "centered-momentum") else range(4):
                add(f"{opt}-s{s}-{label}", opt, options(opt, lr, s, **extra))

    # Schedules (λ stays on so a schedule also changes the decay).
    step_sched = {"kind": "step", "initial": 0.05, "milestones": [10, 25, 40], "gamma": 0.5}
    cosine = {"kind": "cosine", "initial": 0.05, "totalSteps": 50, "final": 0.001}
    warm_cos = {"kind": "warmup", "warmupSteps": 8,
                "then": {"kind": "cosine", "initial": 0.04, "totalSteps": 45, "final": 0.0}}
    seq = {"kind": "sequence", "boundaries": [15, 35], "schedules": [
        {"kind": "constant", "value": 0.03},
        {"kind": "exponential", "initial": 0.03, "gamma": 0.9},
        {"kind": "cosine", "initial": 0.01, "totalSteps": 20, "final": 0.001}]}
    expo = {"kind": "exponential", "initial": 0.1, "gamma": 0.97}
    add("adamw-s1-schedule-step", "adamw", options("adamw", step_sched, 1, weightDecay=0.05))
    add("adamw-s2-schedule-cosine", "adamw", options("adamw", cosine, 2, weightDecay=0.05))
    add("adamw-s1-schedule-warmup-cosine", "adamw", options("adamw", warm_cos, 1))
    add("adam-s1-schedule-sequence", "adam", options("adam", seq, 1, weightDecay=0.01))
    add("sgd-s1-schedule-exponential-momentum", "sgd",
        options("sgd", expo, 1, momentum=0.9, weightDecay=0.01))
    add("rmsprop-s1-schedule-cosine", "rmsprop",
        options("rmsprop", {**cosine, "initial": 0.01}, 1))
    add("adamw-s3-constant-schedule-spec", "adamw",
        options("adamw", {"kind": "constant", "value": 0.02}, 3, weightDecay=0.1))

    # scheduleAware and includeWeightDecay, with s = 2 and 3 and non-constant schedules.
    add("adamw-s2-scheduleaware-cosine", "adamw",
        options("adamw", cosine, 2, scheduleAware=True, weightDecay=0.05))
    add("adamw-s3-scheduleaware-warmup-cosine", "adamw",
        options("adamw", warm_cos, 3, scheduleAware=True))
    add("sgd-s3-scheduleaware-step", "sgd",
        options("sgd", step_sched, 3, scheduleAware=True, momentum=0.9))
    add("rmsprop-s2-scheduleaware-sequence", "rmsprop",
        options("rmsprop", {**seq, "schedules": [{"kind": "constant", "value": 0.01},
                                                 {"kind": "exponential", "initial": 0.01,
                                                  "gamma": 0.95},
                                                 {"kind": "constant", "value": 0.002}]},
                2, scheduleAware=True, centered=True))
    add("adamw-s2-includewd-cosine", "adamw",
        options("adamw", cosine, 2, includeWeightDecay=True, weightDecay=0.2))
    add("adamw-s3-includewd-scheduleaware-step", "adamw",
        options("adamw", step_sched, 3, includeWeightDecay=True, scheduleAware=True,
                weightDecay=0.2))
    add("adamw-s3-includewd-constant", "adamw",
        options("adamw", 0.05, 3, includeWeightDecay=True, weightDecay=0.3))
    add("adabelief-s2-includewd-exponential", "adabelief",
        options("adabelief", {**expo, "initial": 0.05}, 2, includeWeightDecay=True,
                weightDecay=0.2))
    add("adabelief-s3-includewd-scheduleaware-amsgrad-sequence", "adabelief",
        options("adabelief", seq, 3, includeWeightDecay=True, scheduleAware=True,
                weightDecay=0.1, amsgrad=True))

    # Global-norm clipping with a max norm below the gradient norm (checked below: it clips).
    add("adamw-s1-clip", "adamw", options("adamw", 0.05, 1, clipGlobalNorm=1.0))
    add("adam-s0-clip-decay", "adam",
        options("adam", 0.02, 0, clipGlobalNorm=0.3, weightDecay=0.05))
    add("sgd-s2-clip-momentum", "sgd", options("sgd", 0.05, 2, clipGlobalNorm=0.4, momentum=0.9))
    add("rmsprop-s1-clip", "rmsprop", options("rmsprop", 0.005, 1, clipGlobalNorm=0.5))
    add("adabelief-s2-clip-scheduleaware-cosine", "adabelief",
        options("adabelief", cosine, 2, clipGlobalNorm=0.5, scheduleAware=True))

    # excludeFromWeightDecay (exact names; no name is a substring of another).
    names = ["kernel", "bias"]
    add("adamw-s1-exclude-bias", "adamw",
        options("adamw", 0.03, 1, weightDecay=0.2, excludeFromWeightDecay=["bias"]),
        shapes=[[2, 3], [3]], names=names)
    add("adamw-s2-exclude-bias-includewd-cosine", "adamw",
        options("adamw", cosine, 2, weightDecay=0.3, includeWeightDecay=True,
                excludeFromWeightDecay=["bias"]), shapes=[[4, 1], [2]], names=names)
    add("sgd-s1-exclude-bias-momentum", "sgd",
        options("sgd", 0.05, 1, momentum=0.9, weightDecay=0.1, excludeFromWeightDecay=["bias"]),
        shapes=[[2, 3], [3]], names=names)
    add("adabelief-s2-exclude-gamma", "adabelief",
        options("adabelief", 0.03, 2, weightDecay=0.2, excludeFromWeightDecay=["gamma"]),
        shapes=[[3], [2], [4, 1]], names=["kernel", "gamma", "bias"])

    # Small learning rates.
    add("adamw-s1-lr1e-3", "adamw", options("adamw", 1e-3, 1))
    add("adabelief-s1-lr1e-3", "adabelief", options("adabelief", 1e-3, 1, weightDecay=0.01))
    return cases


# ---------------------------------------------------------------------------------------------


def main() -> int:
    start = time.time()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cases = build_cases()
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    out_cases, worst, worst32, golden_checked, identity_checked = [], 0.0, 0.0, 0, 0
    for case in cases:
        o = case["options"]
        assert sum(len(v["theta0"]) for v in case["variables"]) <= 30
        if o["includeWeightDecay"]:
            assert is_decoupled(case), f"{case['name']}: includeWeightDecay needs decoupled decay"
        if o.get("nesterov"):
            assert o["momentum"] > 0 and o["dampening"] == 0
        lrs = lrs_for(case)
        assert all(math.isfinite(x) and x >= 0 for x in lrs)
        ref, ind = run_torch(case, lrs), run_numpy(case, lrs)
        for key in ("thetaHat", "theta", "loss"):
            a = np.concatenate([flat(e) for e in ref[key]]) if key != "loss" else ref[key]
            b = np.concatenate([flat(e) for e in ind[key]]) if key != "loss" else ind[key]
            d = max_diff(a, b)
            worst = max(worst, d)
            assert d < AGREE_TOL, f"{case['name']}: torch and numpy differ in {key} by {d:.3e}"
        for entry in ref["theta"] + ref["thetaHat"]:
            x = flat(entry)
            assert np.all(np.isfinite(x)) and np.max(np.abs(x)) < 5, f"{case['name']} diverges"
        if "clipGlobalNorm" in o:
            assert ind["clippedUpdates"] > 0, f"{case['name']}: clipGlobalNorm never clips"
        if case["name"].startswith("method-golden-"):
            golden_checked += check_golden(case, ref) + check_golden(case, ind)
        identity_checked += check_identity(case, ref, lrs)
        f32 = run_numpy(case, lrs, np.float32)
        dev32 = max(max_diff(flat(x), flat(y))
                    for x, y in zip(ref["theta"] + ref["thetaHat"], f32["theta"] + f32["thetaHat"]))
        assert dev32 < FLOAT32_TOL, f"{case['name']}: float32 run drifts by {dev32:.2e}"
        worst32 = max(worst32, dev32)
        extra = {"clippedUpdates": ind["clippedUpdates"]} if "clipGlobalNorm" in o else {}
        out_cases.append({**case, "lrs": lrs, **ref, **extra, "float32Deviation": dev32})
    assert golden_checked == 2 * (4 + 8 + 4), golden_checked

    doc = {
        "generator": "tools/reference/make_fixtures.py",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "dtype": "float64",
        "cases": out_cases,
    }
    text = json.dumps(doc, separators=(",", ":"), allow_nan=False)
    # Same folder, fsync, rename: a reader never sees a half-written file.
    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(OUT_PATH), prefix=".optimizers.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, OUT_PATH)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    print(f"{len(out_cases)} cases, {STEPS} steps each; torch {torch.__version__}")
    print(f"max |torch - numpy| over all θ̂, θ, loss: {worst:.3e} (tolerance {AGREE_TOL:g})")
    print(f"max |float32 run - float64| per case: {worst32:.2e} (limit {FLOAT32_TOL:g})")
    print(f"golden values checked: {golden_checked} (tolerance {GOLDEN_TOL:g})")
    print(f"one-step identity checked at {identity_checked} updates")
    rel = os.path.relpath(OUT_PATH, REPO)
    print(f"wrote {rel} ({len(text) + 1} bytes) in {time.time() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
