"""A tiny base model made on this machine, for the local training run and the tests.

No hub download: a byte-level BPE tokenizer is trained with `tokenizers` on the texts of a
build-finetune dataset's train split, given a ChatML chat template, and a two-layer Llama
with random weights (seeded) is created from a config. Training it for a few steps on the
same dataset must lower its loss, which is what the tests check; it generates nothing
useful.

    python -m hive_trainer.tiny --dataset-dir lake/finetune/dt=D --out target/tiny-model
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import dataset as ds

CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def make(
    dataset_dir: str | Path, out: str | Path, vocab_size: int = 1024, hidden: int = 64, layers: int = 2, seed: int = 0
) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    data = ds.load(dataset_dir)
    texts = [m["content"] for r in data.records("sft", "train") for m in r["messages"]]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=SPECIAL,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
        # Wider than Llama's 0.02: with width 64 and tied embeddings, 0.02 caps the logits
        # near 1, so a LoRA adapter (which does not touch the embeddings) could barely move
        # the output distribution away from uniform.
        initializer_range=0.1,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    out = Path(out)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="hive_trainer.tiny", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--vocab-size", type=int, default=1024)
    args = p.parse_args(argv)
    try:
        print(make(args.dataset_dir, args.out, vocab_size=args.vocab_size))
    except ds.DatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
