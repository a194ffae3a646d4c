"""Held-out evaluation of a causal LM on SFT examples: loss, perplexity and token accuracy
on the kept lines only.

The prompt (system and user messages, rendered with the tokenizer's chat template and its
generation prompt) is context; only the assistant turn, the file as the user kept it, is
scored. The loss is the mean negative log-likelihood per scored token over the whole split
(token-weighted, not a mean of batch means), perplexity is exp(loss), and token accuracy
is the share of scored tokens whose most likely next token is the right one. Under
torch.distributed each rank scores every `world_size`-th example and the sums are reduced,
so every rank returns the same numbers. The promotion gate compares models with this one
function on one split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class EvalResult:
    loss: float
    perplexity: float
    token_accuracy: float
    tokens: int
    examples: int
    truncated: int

    def metrics(self, prefix: str) -> dict[str, float]:
        return {
            f"{prefix}/loss": self.loss,
            f"{prefix}/perplexity": self.perplexity,
            f"{prefix}/token_accuracy": self.token_accuracy,
            f"{prefix}/tokens": float(self.tokens),
            f"{prefix}/examples": float(self.examples),
            f"{prefix}/truncated_examples": float(self.truncated),
        }


def encode(tokenizer, messages: list[dict], max_length: int) -> tuple[list[int], int, bool]:
    """(token ids, index of the first scored token, truncated?) of one chat example."""
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    if not full.startswith(prompt):
        raise ValueError("the chat template does not render the prompt as a prefix of the conversation")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(full[len(prompt) :], add_special_tokens=False)["input_ids"]
    ids = prompt_ids + completion_ids
    truncated = len(ids) > max_length
    return ids[:max_length], len(prompt_ids), truncated


def evaluate(model, tokenizer, records: list[dict], max_length: int, *, distributed: bool = True) -> EvalResult:
    import torch
    import torch.distributed as dist

    rank, world = (
        (dist.get_rank(), dist.get_world_size())
        if distributed and dist.is_available() and dist.is_initialized()
        else (0, 1)
    )
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    # nll sum, scored tokens, correct tokens, examples, truncated examples
    sums = torch.zeros(5, dtype=torch.float64, device=device)
    with torch.no_grad():
        for i in range(rank, len(records), world):
            ids, first, truncated = encode(tokenizer, records[i]["messages"], max_length)
            sums[3] += 1
            sums[4] += int(truncated)
            # token t is predicted from the logits at t - 1; score tokens first..end
            if first >= len(ids) or first < 1:
                continue
            input_ids = torch.tensor([ids], device=device)
            logits = model(input_ids=input_ids).logits[0, :-1].float()
            targets = input_ids[0, 1:]
            scored = slice(first - 1, None)
            nll = torch.nn.functional.cross_entropy(logits[scored], targets[scored], reduction="sum")
            sums[0] += nll.double()
            sums[1] += targets[scored].numel()
            sums[2] += (logits[scored].argmax(-1) == targets[scored]).sum().double()
    if world > 1:
        dist.all_reduce(sums)
    if was_training:
        model.train()
    nll, tokens, correct, examples, truncated = (float(x) for x in sums.tolist())
    if tokens == 0:
        raise ValueError("the held-out split has no scored token (empty, or every prompt fills max_length)")
    loss = nll / tokens
    return EvalResult(
        loss=loss,
        perplexity=math.exp(min(loss, 700.0)),
        token_accuracy=correct / tokens,
        tokens=int(tokens),
        examples=int(examples),
        truncated=int(truncated),
    )
