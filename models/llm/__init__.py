"""LLM text-to-motion (MotionGPT-2): motion tokens in a causal LM's vocabulary, LoRA instruction tuning.

- ``base``: the base causal LM (a local folder, a GGUF file, or the embedded SmolLM2-135M GGUF);
- ``vocabulary``: motion tokens <-> LM ids (the added token blocks);
- ``prompts``: the tasks and their instruction templates (``assets/llm/templates.json``);
- ``model``: :class:`MotionLLM` = base + vocabulary + peft LoRA; ``adapter``: its one file;
- ``grammar``: constrained decoding (a transformers LogitsProcessor); ``generate``: the four tasks;
- ``data`` / ``training``: the two training stages on a HumanML3D-layout folder;
- ``official``: OpenMotionLab's MotionGPT checkpoints (flan-t5-base + VQ-VAE).
"""

import os

# The bundled demo adapter and the template file, offered by the Load Motion LLM node as "[bundled] <file>".
BUNDLED_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           "assets", "llm")
# The demo adapter `python -m posemotion llm-train` made (its .json records the command), for the
# embedded SmolLM2 base and the bundled vqvae_small motion tokenizer.
DEMO_ADAPTER = os.path.join(BUNDLED_DIR, "smollm2_vqvae_demo.safetensors")
DEFAULT_CORPUS = os.path.join("data", "motion_corpus")  # where motion-corpus writes its folder
DEFAULT_TOKENIZER = "vqvae_corpus.safetensors"  # the bundled motion tokenizer the demo adapter uses
