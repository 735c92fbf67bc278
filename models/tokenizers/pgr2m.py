"""PGR2M's pose-guided residual tokenizer (kind ``pgr2m``): pose codes + residual codes.

Data types (see ``base.py`` and ``posecodes.py``)
- features: normalised HumanML3D features [B, T, D], T a multiple of ``downsample`` (4);
- step codes: bool pose codes per token step [B, N, 392], N = T // 4; token step n carries the
  codes of frame 4n (PGR2M's ``codes[::unit_length]``). Frame codes [B, T, 392] are accepted too;
- ids: int64 [B, N, S], one column per residual stage (S = 6 officially, 512 codes each).

Model
- pose latent = multi-hot step codes @ ``pc_encoder.codebook.weight`` [392, code_dim] (the sum of
  the embeddings of the 70 active categories);
- encoder latent z = conv encoder (the VQ-VAE's, ``encoder.model.*``); residual r = z - pose latent
  (the pose latent is detached here, as the official run does, so the pose embeddings learn only
  through the decoder);
- r is quantised by S stages of attention-based quantisation (``rvq.layers.{s}``): queries from the
  residual (``attn.to_q`` + RMSNorm), keys from the stage's codebook (``attn.to_k`` + RMSNorm),
  logits = q.k / sqrt(attention_dim); the code is the argmax, the emitted vector is the code's value
  ``attn.to_v(codebook)[id]``. While training the one-hot is straight-through (hard forward, softmax
  gradient) so codebook, keys and queries get gradients; at inference it is the plain argmax. Each
  stage quantises what the previous stages left;
- decoder input = pose latent + sum of the stage vectors (``decoder.model.*``).

Training (``forward``), from the official recipe: with probability ``residual_dropout`` (tau, 0.1)
the residual path is dropped for the whole batch and the decoder sees the pose latent alone; else
with probability ``quantizer_dropout`` (0.2) only the first k stages are used, k uniform in 1..S.
Losses: smooth-L1 reconstruction (plus velocity when ``velocity_weight`` > 0); per stage
``|e - r|^2 + |sg(e_hard) - r|^2 + beta |e_hard - sg(r)|^2`` (beta 0.25) averaged over stages and
weighted 0.02; the entropy term ``H(per-sample p) - H(batch-mean p)`` of softmax(logits / 0.01)
weighted 0.01 (confident codes per sample, balanced usage over the batch).

Official checkpoints (``pretrained/exp_pg_tokenizer/net_best_fid.pth``): ``{"net": state_dict,
"nb_iter": int}``, keys without prefix; :func:`read_official_checkpoint` recognises them and infers
the configuration from the shapes. Official sizes: encoder/decoder width 512, code_dim 512, two
stride-2 stages of three residual blocks, 263 features, 392 x 512 pose embeddings, 6 stages of
512 x 512 codebooks with 512-d attention (``to_q``/``to_k``/``to_v`` weight and bias, RMSNorm
``norm_q``/``norm_k`` weight).
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F
from torch import nn

from ..core.errors import InputError, ModelFileError
from ..motion.humanml3d import features_to_joints
from .base import MotionTokenizer, MotionTokens
from .posecodes import NUM_CATEGORIES, SLOTS, pose_codes, pose_codes_per_step, validate_pose_codes
from .quantizers import perplexity_of
from .vqvae import MotionDecoder, MotionEncoder, reconstruction_losses


class PoseCodeEmbedding(nn.Module):
    """Multi-hot pose codes [B, N, C] -> pose latent [B, N, code_dim] (sum of active embeddings)."""

    def __init__(self, num_categories: int = NUM_CATEGORIES, code_dim: int = 512):
        super().__init__()
        self.codebook = nn.Embedding(num_categories, code_dim)
        # 70 categories are active per step: scale so that their sum has about unit variance
        nn.init.normal_(self.codebook.weight, std=1.0 / math.sqrt(len(SLOTS)))

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return codes.to(self.codebook.weight.dtype) @ self.codebook.weight


class CodebookAttention(nn.Module):
    """Query/key/value projections that compare residual vectors with one stage's codebook."""

    def __init__(self, code_dim: int, attention_dim: int):
        super().__init__()
        self.to_q = nn.Linear(code_dim, attention_dim)
        self.to_k = nn.Linear(code_dim, attention_dim)
        self.to_v = nn.Linear(code_dim, code_dim)
        self.norm_q = nn.RMSNorm(attention_dim, eps=1e-5)
        self.norm_k = nn.RMSNorm(attention_dim, eps=1e-5)
        self.scale = 1.0 / math.sqrt(attention_dim)

    def keys(self, codebook: torch.Tensor) -> torch.Tensor:
        """Normalised keys of the codes [K, attention_dim]."""
        return self.norm_k(self.to_k(codebook))

    def logits(self, x: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """[M, code_dim] x keys [K, attention_dim] -> [M, K]."""
        return self.norm_q(self.to_q(x)) @ keys.T * self.scale


def entropy_terms(logits: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean per-sample entropy, entropy of the batch-mean distribution) of softmax(logits / T)."""
    log_probs = F.log_softmax(logits / temperature, dim=-1)
    probs = log_probs.exp()
    sample = -(probs * log_probs).sum(-1).mean()
    mean_probs = probs.mean(0)
    batch = -(mean_probs * torch.log(mean_probs + 1e-5)).sum()
    return sample, batch


class AttentionQuantizer(nn.Module):
    """One stage: ``codebook`` [K, code_dim] and its attention projections (``attn``)."""

    def __init__(self, num_codes: int, code_dim: int, attention_dim: int):
        super().__init__()
        self.codebook = nn.Parameter(torch.empty(num_codes, code_dim).uniform_(-1, 1) / math.sqrt(code_dim))
        self.attn = CodebookAttention(code_dim, attention_dim)
        self._cache: tuple[tuple, torch.Tensor, torch.Tensor] | None = None

    def _weights_state(self) -> tuple:
        tensors = [self.codebook, self.attn.to_k.weight, self.attn.to_k.bias, self.attn.norm_k.weight,
                   self.attn.to_v.weight, self.attn.to_v.bias]
        # inference tensors (ComfyUI runs nodes in inference mode) have no version counter, and cannot be
        # changed in place outside inference mode: their storage identifies them
        return tuple((t.data_ptr(), 0 if t.is_inference() else t._version, t.dtype, t.device) for t in tensors)

    def keys_and_values(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(keys [K, attention_dim], values = to_v(codebook) [K, code_dim]: what each code adds).

        Without gradients they depend on the weights alone, so they are computed once per weight
        state (an in-place update or a new load changes the tensors' versions) rather than per call."""
        if torch.is_grad_enabled():
            return self.attn.keys(self.codebook), self.attn.to_v(self.codebook)
        state = self._weights_state()
        if self._cache is None or self._cache[0] != state:
            self._cache = (state, self.attn.keys(self.codebook), self.attn.to_v(self.codebook))
        return self._cache[1], self._cache[2]

    def values(self) -> torch.Tensor:
        return self.keys_and_values()[1]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """x [M, code_dim] -> (vectors, hard vectors, ids [M], logits [M, K]).

        ``vectors`` equal the hard ones in value; while training their gradient flows through the
        softmax (straight-through), at inference they are the hard ones."""
        keys, values = self.keys_and_values()
        logits = self.attn.logits(x, keys)
        ids = logits.argmax(-1)
        if not self.training:
            hard_vectors = F.embedding(ids, values)
            return hard_vectors, hard_vectors, ids, logits
        hard = F.one_hot(ids, values.shape[0]).to(values.dtype)
        hard_vectors = hard @ values
        soft = logits.softmax(-1)
        vectors = (hard - soft.detach() + soft) @ values
        return vectors, hard_vectors, ids, logits


class AttentionResidualQuantizer(nn.Module):
    """S attention quantisers, each quantising what the previous ones left (``layers.{s}``)."""

    def __init__(self, num_quantizers: int, num_codes: int, code_dim: int, attention_dim: int):
        super().__init__()
        self.layers = nn.ModuleList(AttentionQuantizer(num_codes, code_dim, attention_dim) for _ in range(num_quantizers))

    def forward(self, x: torch.Tensor, stages: int, beta: float, temperature: float) -> dict[str, torch.Tensor]:
        """x [M, code_dim] through the first ``stages`` layers: the summed latent (straight-through to
        x, as the official code passes it on), ids [M, stages] and the stage-averaged loss terms."""
        residual, total = x, torch.zeros_like(x)
        ids, vq_losses, sample_entropy, batch_entropy, perplexity = [], [], [], [], []
        for layer in self.layers[:stages]:
            vectors, hard_vectors, stage_ids, logits = layer(residual)
            vq_losses.append(F.mse_loss(vectors, residual) + F.mse_loss(hard_vectors.detach(), residual)
                             + beta * F.mse_loss(hard_vectors, residual.detach()))
            sample, batch = entropy_terms(logits, temperature)
            sample_entropy.append(sample)
            batch_entropy.append(batch)
            perplexity.append(perplexity_of(stage_ids.detach(), layer.codebook.shape[0]))
            total = total + residual + (vectors - residual).detach()
            residual = residual - vectors.detach()
            ids.append(stage_ids)
        mean = lambda values: torch.stack(values).mean()  # noqa: E731
        return {"latent": total, "ids": torch.stack(ids, -1), "vq_loss": mean(vq_losses),
                "sample_entropy": mean(sample_entropy), "batch_entropy": mean(batch_entropy),
                "perplexity": mean(perplexity)}

    def lookup(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [..., q] (q <= S, stage order) -> summed stage values [..., code_dim]."""
        total = None
        for stage in range(ids.shape[-1]):
            vectors = F.embedding(ids[..., stage], self.layers[stage].values())
            total = vectors if total is None else total + vectors
        return total


class PGR2MTokenizer(MotionTokenizer):
    """Pose codes + S residual streams (defaults = the official HumanML3D tokenizer)."""

    kind = "pgr2m"

    def __init__(self, input_dim: int = 263, code_dim: int = 512, width: int = 512, down_t: int = 2,
                 stride_t: int = 2, depth: int = 3, dilation_growth: int = 3, activation: str = "relu",
                 num_pose_categories: int = NUM_CATEGORIES, num_quantizers: int = 6, num_codes: int = 512,
                 attention_dim: int = 512, residual_dropout: float = 0.1, quantizer_dropout: float = 0.2,
                 commitment_beta: float = 0.25, entropy_temperature: float = 0.01,
                 quantization_weight: float = 0.02, entropy_weight: float = 0.01, velocity_weight: float = 0.0,
                 recon_loss: str = "smooth_l1", fps: float = 20.0):
        super().__init__()
        if num_pose_categories != NUM_CATEGORIES:
            raise ValueError(f"the pose parser has {NUM_CATEGORIES} categories, got num_pose_categories={num_pose_categories}")
        if num_quantizers < 1:
            raise ValueError(f"num_quantizers must be >= 1, got {num_quantizers}")
        for name, value in (("residual_dropout", residual_dropout), ("quantizer_dropout", quantizer_dropout)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in 0..1, got {value}")
        self.config = dict(input_dim=input_dim, code_dim=code_dim, width=width, down_t=down_t, stride_t=stride_t,
                           depth=depth, dilation_growth=dilation_growth, activation=activation,
                           num_pose_categories=num_pose_categories, num_quantizers=num_quantizers,
                           num_codes=num_codes, attention_dim=attention_dim, residual_dropout=residual_dropout,
                           quantizer_dropout=quantizer_dropout, commitment_beta=commitment_beta,
                           entropy_temperature=entropy_temperature, quantization_weight=quantization_weight,
                           entropy_weight=entropy_weight, velocity_weight=velocity_weight,
                           recon_loss=recon_loss, fps=fps)
        self.downsample = stride_t ** down_t
        shape = dict(down_t=down_t, stride_t=stride_t, width=width, depth=depth,
                     dilation_growth=dilation_growth, activation=activation)
        self.encoder = MotionEncoder(input_dim, code_dim, **shape)
        self.decoder = MotionDecoder(input_dim, code_dim, **shape)
        self.pc_encoder = PoseCodeEmbedding(num_pose_categories, code_dim)
        self.rvq = AttentionResidualQuantizer(num_quantizers, num_codes, code_dim, attention_dim)

    @property
    def feature_dim(self) -> int:
        return self.config["input_dim"]

    def codebook_sizes(self) -> tuple[int, ...]:
        return (self.config["num_codes"],) * self.config["num_quantizers"]

    # ------------------------------------------------------------------ pose codes

    def step_codes(self, features: torch.Tensor, pose_codes=None) -> torch.Tensor:
        """Pose codes per token step [B, N, 392] for cropped ``features`` [B, 4N, D].

        ``pose_codes`` may be per frame [B, >=4N, 392] or per step [B, N, 392]; without them they
        are measured on the joints recovered from the (denormalised) features."""
        batch, steps = features.shape[0], features.shape[1] // self.downsample
        if pose_codes is None:
            if self.config["input_dim"] != 263:
                raise InputError("pose_codes", "pose codes are needed: they can only be measured from 263-d "
                                               "HumanML3D features")

            joints = features_to_joints(self.denormalise(features.detach()))
            return pose_codes_per_step(pose_codes_of(joints), self.downsample).to(features.device)
        codes = validate_pose_codes(pose_codes)
        if codes.ndim == 2:
            codes = codes[None]
        if codes.ndim != 3 or codes.shape[0] != batch:
            raise InputError("pose_codes", f"expected [{batch}, N, {NUM_CATEGORIES}] codes for {batch} sequences, "
                                           f"got {tuple(codes.shape)}")
        if codes.shape[1] == steps:
            return codes.to(features.device)
        if codes.shape[1] >= steps * self.downsample:
            return pose_codes_per_step(codes, self.downsample)[:, :steps].to(features.device)
        raise InputError("pose_codes", f"expected codes for {steps} token steps or {steps * self.downsample} frames, "
                                       f"got {codes.shape[1]}")

    def pose_latent(self, step_codes: torch.Tensor) -> torch.Tensor:
        return self.pc_encoder(step_codes)

    # ------------------------------------------------------------------ encode / decode

    def _residual(self, features: torch.Tensor, step_codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(pose latent [B, N, C], residual z - sg(pose latent) flattened to [B * N, C])."""
        pose = self.pose_latent(step_codes)
        latent = self.encoder(features.transpose(1, 2)).transpose(1, 2)
        residual = latent - pose.detach()
        return pose, residual.reshape(-1, residual.shape[-1])

    def encode(self, features: torch.Tensor, pose_codes=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised features [B, T, D] -> (residual ids [B, T // 4, S], step codes [B, T // 4, 392])."""
        features = self.check_features(features)
        codes = self.step_codes(features, pose_codes)
        _, residual = self._residual(features, codes)
        stages = self.config["num_quantizers"]
        out = self.rvq(residual, stages, self.config["commitment_beta"], self.config["entropy_temperature"])
        return out["ids"].view(features.shape[0], -1, stages), codes

    def decode(self, ids: torch.Tensor | None, pose_codes) -> torch.Tensor:
        """(ids [B, N, q] with q in 0..S, or None; step codes [B, N, 392]) -> features [B, 4N, D].

        Fewer than S stages (or none: pose codes alone) decode too; residual dropout trains for it."""
        codes = validate_pose_codes(pose_codes)
        if codes.ndim == 2:
            codes = codes[None]
        if codes.ndim != 3 or codes.shape[1] < 1:
            raise InputError("pose_codes", f"expected step codes [B, N, {NUM_CATEGORIES}], got {tuple(codes.shape)}")
        device = self.pc_encoder.codebook.weight.device
        latent = self.pose_latent(codes.to(device))
        if ids is not None and ids.shape[-1:] != (0,):
            ids = self.check_ids(ids, min_streams=0)
            if tuple(ids.shape[:2]) != tuple(codes.shape[:2]):
                raise InputError("ids", f"ids cover {tuple(ids.shape[:2])} (batch, steps) but the pose codes "
                                        f"{tuple(codes.shape[:2])}")
            latent = latent + self.rvq.lookup(ids.to(device))
        return self.decoder(latent.transpose(1, 2)).transpose(1, 2)

    # ------------------------------------------------------------------ training

    def forward(self, features: torch.Tensor, pose_codes=None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        features = self.check_features(features)
        codes = self.step_codes(features, pose_codes)
        pose, residual = self._residual(features, codes)
        stages = self.config["num_quantizers"]
        drop_all = self.training and bool(torch.rand(()) < self.config["residual_dropout"])
        if self.training and not drop_all and bool(torch.rand(()) < self.config["quantizer_dropout"]):
            stages = int(torch.randint(1, stages + 1, ()))
        zero = features.new_zeros(())
        terms = {"vq_loss": zero, "sample_entropy": zero, "batch_entropy": zero}
        latent = pose
        if not drop_all:
            terms = self.rvq(residual, stages, self.config["commitment_beta"], self.config["entropy_temperature"])
            latent = pose + terms["latent"].view_as(pose)
        recon = self.decoder(latent.transpose(1, 2)).transpose(1, 2)
        losses = reconstruction_losses(recon, features, terms["vq_loss"], {
            "recon_loss": self.config["recon_loss"], "velocity_weight": self.config["velocity_weight"],
            "commit_weight": self.config["quantization_weight"]})
        losses["entropy"] = self.config["entropy_weight"] * (terms["sample_entropy"] - terms["batch_entropy"])
        return recon, losses


def pose_codes_of(joints: torch.Tensor) -> torch.Tensor:
    """posecodes.pose_codes, kept on the joints' device."""
    return pose_codes(joints).to(joints.device)


# ---------------------------------------------------------------------------------------------
# functions for the nodes

@torch.no_grad()
def encode_to_tokens(tokenizer: PGR2MTokenizer, features: torch.Tensor, pose_codes=None) -> MotionTokens:
    """One clip's normalised features [T, D] (and optional frame codes [T, 392]) -> MOTION_TOKENS."""
    if not isinstance(features, torch.Tensor) or features.ndim != 2:
        raise InputError("features", f"expected one clip's features [T, {tokenizer.feature_dim}]")
    device = tokenizer.pc_encoder.codebook.weight.device
    codes = None if pose_codes is None else validate_pose_codes(pose_codes)[None]
    ids, steps = tokenizer.encode(features[None].to(device), codes)
    return MotionTokens(ids=ids[0].cpu(), codebook_sizes=tokenizer.codebook_sizes(), tokenizer=tokenizer.kind,
                        num_frames=ids.shape[1] * tokenizer.downsample, fps=tokenizer.fps, pose_codes=steps[0].cpu())


@torch.no_grad()
def decode_pose_codes_and_residuals(tokenizer: PGR2MTokenizer, tokens: MotionTokens,
                                    residual_stages: int | None = None) -> torch.Tensor:
    """MOTION_TOKENS -> normalised features [N * 4, D] from the pose codes plus the first
    ``residual_stages`` residual streams (all when None, none when 0: pose codes alone)."""
    if not isinstance(tokens, MotionTokens) or tokens.tokenizer != PGR2MTokenizer.kind or tokens.pose_codes is None:
        raise InputError("motion_tokens", "expected PGR2M tokens (with pose codes)")
    available = tokens.ids.shape[1]
    stages = available if residual_stages is None else residual_stages
    if not isinstance(stages, int) or not 0 <= stages <= available:
        raise InputError("residual_stages", f"expected 0..{available}, got {residual_stages!r}")
    if tuple(tokens.codebook_sizes[:stages]) != tokenizer.codebook_sizes()[:stages]:
        raise InputError("motion_tokens", f"tokens have codebooks {tokens.codebook_sizes}, this tokenizer "
                                          f"{tokenizer.codebook_sizes()}")
    features = tokenizer.decode(tokens.ids[None, :, :stages], tokens.pose_codes[None])
    return features[0].cpu()


# ---------------------------------------------------------------------------------------------
# pose-code orthogonality

def pose_code_orthogonality(embeddings) -> dict[str, float]:
    """How far apart the 70 slots' pose-code embeddings point (PGR2M's orthogonality measure).

    Each slot's centroid (mean of its categories' embeddings [392, D] rows) is normalised; G is
    their cosine Gram matrix [70, 70]. ``frobenius`` = ||G - I||_F^2 (the official orthogonality
    loss); ``mean_abs_cosine`` = mean |G_ij| over i != j (0 for orthogonal slots, 1 for collinear).
    """
    if isinstance(embeddings, PGR2MTokenizer):
        embeddings = embeddings.pc_encoder.codebook.weight
    weights = torch.as_tensor(embeddings).detach().float().cpu()
    if weights.ndim != 2 or weights.shape[0] != NUM_CATEGORIES:
        raise InputError("embeddings", f"expected pose-code embeddings [{NUM_CATEGORIES}, D], got {tuple(weights.shape)}")
    centroids = torch.stack([weights[list(slot.categories)].mean(0) for slot in SLOTS])
    unit = F.normalize(centroids, dim=1)
    gram = unit @ unit.T
    off = ~torch.eye(len(SLOTS), dtype=torch.bool)
    return {"frobenius": float(((gram - torch.eye(len(SLOTS))) ** 2).sum()),
            "mean_abs_cosine": float(gram[off].abs().mean())}


# ---------------------------------------------------------------------------------------------
# official checkpoints

_POSE_KEY = "pc_encoder.codebook.weight"


def read_official_checkpoint(checkpoint, path: str) -> tuple[str, dict, dict[str, torch.Tensor], str] | None:
    """(kind, config, state dict, source) for an official PGR2M tokenizer checkpoint, else None.

    The file is ``{"net": state_dict, "nb_iter": ...}``; keys carry no prefix. The dilation growth (3)
    and activation (ReLU) leave no trace in shapes and take the official values."""
    state = checkpoint.get("net") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or _POSE_KEY not in state:
        return None
    state = {k: v for k, v in state.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}

    def shape(key: str) -> tuple[int, ...]:
        if key not in state:
            raise ModelFileError(f"{path}: PGR2M checkpoint without {key}")
        return tuple(state[key].shape)

    width, input_dim, _ = shape("encoder.model.0.weight")
    stages = sorted({int(m.group(1)) for k in state if (m := re.fullmatch(r"encoder\.model\.(\d+)\.0\.weight", k))})
    depth = len({m.group(1) for k in state if (m := re.fullmatch(r"encoder\.model\.2\.1\.model\.(\d+)\.conv1\.weight", k))})
    layers = sorted({int(m.group(1)) for k in state if (m := re.fullmatch(r"rvq\.layers\.(\d+)\.codebook", k))})
    if not stages or not layers:
        raise ModelFileError(f"{path}: PGR2M checkpoint without encoder stages or residual quantisers")
    num_codes, code_dim = shape("rvq.layers.0.codebook")
    config = dict(input_dim=input_dim, code_dim=code_dim, width=width, down_t=len(stages),
                  stride_t=shape(f"encoder.model.{stages[0]}.0.weight")[2] // 2, depth=depth,
                  num_quantizers=len(layers), num_codes=num_codes,
                  attention_dim=shape("rvq.layers.0.attn.to_q.weight")[0],
                  fps=12.5 if input_dim == 251 else 20.0)  # 251 features = KIT-ML at 12.5 fps
    if shape(_POSE_KEY)[0] != NUM_CATEGORIES:
        raise ModelFileError(f"{path}: {shape(_POSE_KEY)[0]} pose-code embeddings, the parser has {NUM_CATEGORIES}")
    return PGR2MTokenizer.kind, config, state, "PGR2M"
