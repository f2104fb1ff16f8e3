"""The `tritensor generate` job: sample text from a language model that `tritensor train --dataset shakespeare`
saved (--save). The checkpoint holds the model's options and its vocabulary, so nothing else is needed."""

from __future__ import annotations

import argparse
import sys

from .train_args import TEXT_MODELS, Config, TrainError, load_checkpoint
from .train_text import build_text_model

__all__ = ["add_arguments", "generate_text", "main"]


def generate_text(checkpoint: str, prompt: str, tokens: int, *, temperature: float = 1.0, top_k: int | None = None,
                  device: str = "cpu", seed: int = 0) -> str:
    """`prompt` followed by `tokens` characters sampled from the model in `checkpoint` (TrainError for a file that
    is not a text model's checkpoint or a prompt character outside its vocabulary)."""
    import tritensor as tt

    from .models import generate

    saved = load_checkpoint(checkpoint, option="--checkpoint")
    options, vocab = saved["config"], saved.get("vocab")
    if not isinstance(options, dict) or options.get("model") not in TEXT_MODELS or not isinstance(vocab, str):
        raise TrainError(f"--checkpoint {checkpoint}: not a language model's checkpoint (train one with "
                         "`tritensor train --model gpt --dataset shakespeare --save CKPT`)")
    missing = sorted({ch for ch in prompt if ch not in vocab})
    if missing:
        raise TrainError(f"--prompt: character {missing[0]!r} is not in the model's vocabulary")
    config = Config(model=options["model"], dataset="shakespeare", hidden=options["hidden"],
                    block_size=options["block_size"])
    model = build_text_model(config, len(vocab)).to(device)
    model.load_state_dict({k: v.to(device) for k, v in saved["model"].items()})
    generator = tt.Generator(device=device).manual_seed(seed)
    ids = generate(model, [vocab.index(ch) for ch in prompt], tokens, temperature=temperature, top_k=top_k,
                   generator=generator, device=device)
    return "".join(vocab[i] for i in ids)


def add_arguments(parser: argparse.ArgumentParser, positive_int, positive_float) -> None:
    """The `tritensor generate` options (`positive_int`/`positive_float`: the CLI's argparse types)."""
    parser.add_argument("--checkpoint", required=True, metavar="CKPT",
                        help="a checkpoint of `tritensor train --model gpt|lstm --dataset shakespeare --save CKPT`")
    parser.add_argument("--prompt", default="\n", help="the text to continue (default: a new line)")
    parser.add_argument("--tokens", type=positive_int, default=500, metavar="N", help="characters to sample")
    parser.add_argument("--temperature", type=positive_float, default=0.8,
                        help="divides the logits: below 1 sharper, above 1 more random (default 0.8)")
    parser.add_argument("--top-k", type=positive_int, default=None, metavar="K",
                        help="sample among the K most likely characters only")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--seed", type=int, default=0)


def main(args: argparse.Namespace) -> int:
    """Print the sampled text; returns the exit status (0 done, 2 bad options)."""
    try:
        if args.prompt == "":
            raise TrainError("--prompt must hold at least one character")
        text = generate_text(args.checkpoint, args.prompt, args.tokens, temperature=args.temperature,
                             top_k=args.top_k, device=args.device, seed=args.seed)
    except TrainError as exc:
        print(f"tritensor generate: error: {exc}", file=sys.stderr)
        return 2
    print(text)
    return 0
