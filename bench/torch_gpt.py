"""The PyTorch twin of src/models/transformer.ts (buildTransformerLanguageModel): same layers, same
parameter count, used by bench/torch_bench.py and tools/reference/make_transformer_fixture.py.

Pre-LayerNorm GPT blocks (nanoGPT layout): causal multi-head self-attention from one [d, 3d]
projection (q | k | v, heads contiguous), a 4d GELU (exact erf) MLP, LayerNorm eps 1e-5, learned
positions, output logits through the token embedding's matrix (tied, no bias). Dropout 0.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d, eps=1e-5)
        self.attn = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d, eps=1e-5)
        self.fc = nn.Linear(d, 4 * d)
        self.out = nn.Linear(4 * d, d)

    def forward(self, x):
        b, t, d = x.shape
        h, hd = self.heads, d // self.heads
        q, k, v = self.attn(self.ln1(x)).split(d, dim=2)
        q, k, v = (m.view(b, t, h, hd).transpose(1, 2) for m in (q, k, v))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        attention = F.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
        mixed = (attention @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.proj(mixed)
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class Gpt(nn.Module):
    def __init__(self, vocab=10000, width=128, heads=4, layers=4, context=128):
        super().__init__()
        self.wte = nn.Embedding(vocab, width)
        self.wpe = nn.Embedding(context, width)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(width, eps=1e-5)
        # GPT-2's initialization, as the TypeScript model's.
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif "ln" in name:
                nn.init.ones_(p)
            elif name.endswith(("proj.weight", "out.weight")):
                nn.init.normal_(p, 0, 0.02 / math.sqrt(2 * layers))
            else:
                nn.init.normal_(p, 0, 0.02)

    def forward(self, tokens):
        t = tokens.shape[1]
        x = self.wte(tokens) + self.wpe.weight[:t]
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x) @ self.wte.weight.t()


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


def tfjs_weights(model, of=lambda p: p):
    """`of` of each weight (the weight itself, or e.g. its .grad) in the TypeScript model's order,
    names and layout (kernels [in, out])."""
    out = {"embedding/embeddings": of(model.wte.weight), "positions/embeddings": of(model.wpe.weight)}
    for i, blk in enumerate(model.blocks):
        prefix = f"block{i + 1}/"
        out.update({
            prefix + "ln1_gamma": of(blk.ln1.weight), prefix + "ln1_beta": of(blk.ln1.bias),
            prefix + "attn_kernel": of(blk.attn.weight).t(), prefix + "attn_bias": of(blk.attn.bias),
            prefix + "proj_kernel": of(blk.proj.weight).t(), prefix + "proj_bias": of(blk.proj.bias),
            prefix + "ln2_gamma": of(blk.ln2.weight), prefix + "ln2_beta": of(blk.ln2.bias),
            prefix + "fc_kernel": of(blk.fc.weight).t(), prefix + "fc_bias": of(blk.fc.bias),
            prefix + "out_kernel": of(blk.out.weight).t(), prefix + "out_bias": of(blk.out.bias),
        })
    out.update({"ln_f/gamma": of(model.ln_f.weight), "ln_f/beta": of(model.ln_f.bias)})
    return out
