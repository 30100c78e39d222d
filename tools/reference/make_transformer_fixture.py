#!/usr/bin/env python3
"""Float64 reference for the Transformer LM, written to test/fixtures/transformer.json.

Builds bench/torch_gpt.py's Gpt (the PyTorch twin of buildTransformerLanguageModel) at a tiny size,
sets every weight to seeded random float32-representable values (larger than GPT-2's init, so
attention is far from uniform and every LayerNorm gain and bias matters), and records in float64:
the logits, the mean next-token cross-entropy and the gradient of every weight, in the TypeScript
model's names and layout (kernels [in, out]). test/models/transformer.test.ts loads the weights
into the TypeScript model and compares.

Run from the repository root:  /usr/bin/python3 tools/reference/make_transformer_fixture.py
"""
import json
import os
import sys
import tempfile

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from torch_gpt import Gpt, parameter_count, tfjs_weights  # noqa: E402

OUT_PATH = os.path.join("test", "fixtures", "transformer.json")
CONFIG = {"vocabSize": 11, "width": 8, "heads": 2, "layers": 2, "contextLength": 6}
BATCH, STEPS = 2, 5


def main() -> int:
    torch.manual_seed(0)
    model = Gpt(CONFIG["vocabSize"], CONFIG["width"], CONFIG["heads"], CONFIG["layers"],
                CONFIG["contextLength"]).double()
    with torch.no_grad():
        for name, p in model.named_parameters():
            values = torch.randn(p.shape, dtype=torch.float64) * 0.4
            if "ln" in name and name.endswith("weight"):
                values += 1
            p.copy_(values.float().double())  # float32-representable: both sides start equal
    tokens = torch.randint(0, CONFIG["vocabSize"], (BATCH, STEPS))
    targets = torch.randint(0, CONFIG["vocabSize"], (BATCH, STEPS))
    logits = model(tokens)
    loss = F.cross_entropy(logits.reshape(-1, CONFIG["vocabSize"]), targets.reshape(-1))
    loss.backward()
    weights = tfjs_weights(model)
    grads = tfjs_weights(model, lambda p: p.grad)
    assert len(weights) == len(dict(model.named_parameters()))
    fixture = {
        "about": "tools/reference/make_transformer_fixture.py: float64 PyTorch (bench/torch_gpt.py)",
        "config": CONFIG,
        "parameters": parameter_count(model),
        "tokens": tokens.tolist(),
        "targets": targets.tolist(),
        "weights": {n: w.detach().flatten().tolist() for n, w in weights.items()},
        "shapes": {n: list(w.shape) for n, w in weights.items()},
        "logits": logits.detach().flatten().tolist(),
        "loss": loss.item(),
        "grads": {n: g.flatten().tolist() for n, g in grads.items()},
    }
    text = json.dumps(fixture, separators=(",", ":"))
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(OUT_PATH), prefix=".transformer.", suffix=".tmp")
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
    print(f"wrote {OUT_PATH}: {fixture['parameters']} parameters, loss {fixture['loss']:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
