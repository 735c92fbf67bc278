"""The baselines of Table 1 in Li, Bellos, Corso (sec. 3.4), plus the constant-pose reference: the
contract they share and their registry. The models live in ``nearest_baselines.py`` (non-neural)
and ``sequence_baselines.py`` (neural), their shared helpers in ``baseline_common.py``.

Every model implements ``ForecastModel``: ``forecast(initial_pose [B,J,2], conditioning, horizon)
-> [B, horizon, J, 2]`` in normalised image coordinates. ``forecast`` also takes an optional
``initial_visible`` [B, J] bool (default all True): the nearest-neighbour models use it to compare
only keypoints seen in the query's P0; the others accept and ignore it, so callers can pass it to
every model.

Non-neural (``fit(train)`` then ``forecast``):

- ``ConstantPose`` ("const"): P0 repeated, the reference every model must beat;
- ``NearestNeighbourPose`` (NN_P): the training window whose P0 is nearest to the query's;
- ``NearestNeighbourConditioning`` (NN_VL): the training window whose pooled conditioning is most
  similar (cosine), ties broken by the P0 distance.

Both nearest-neighbour models transfer the neighbour's motion relatively: ``query_P0 +
(train_P_t - train_P0)``, truncated to the horizon or padded by repeating the last frame.

Neural (``torch.nn.Module``; a shared generic loop trains them with AdamW over
``model.parameters()`` on minibatches ``windows.select(idx)`` by calling ``model.loss(batch)``;
**the loop calls ``model.prepare(train_windows)`` first when the model has it**, as
``QuantizedTransformerForecaster`` does to build its codebook). Each has a JSON-serialisable
``config`` (every constructor argument, ``layout``, ``num_joints``, ``cond_dim`` and ``encoder``
included), so ``type(model)(**model.config)`` plus ``load_state_dict`` rebuilds it:

- ``LSTMForecaster`` (LSTM, next-token prediction);
- ``CausalTransformerForecaster`` (Transformer NTP, causal self-attention, no KV cache);
- ``QuantizedTransformerForecaster`` (Quant.+TF: k-means pose codes + a causal Transformer).

The NTP models predict each next pose as the previous pose plus a predicted displacement
(``P_{t+1} = P_t + head(h_t)``, the head initialised to zero so training starts from the constant
pose): the same function class as absolute next-pose prediction with a skip connection, and the
loss is the MSE on the absolute next pose over visible keypoints. Teacher-forced inputs carry each
invisible keypoint forward from its last visible position (invisible ones are (0, 0) in the data).
All neural models cross-attend to / pool only ``conditioning.tokens`` (F_M), as the paper's
decoder does; ``image_tokens`` are not used.
"""

from __future__ import annotations

from .baseline_common import ForecastModel
from .nearest_baselines import ConstantPose, NearestNeighbourConditioning, NearestNeighbourPose
from .sequence_baselines import (
                                 CausalTransformerForecaster,
                                 LSTMForecaster,
                                 QuantizedTransformerForecaster,
                                 kmeans_codebook,
)

__all__ = ["BASELINES", "CausalTransformerForecaster", "ConstantPose", "ForecastModel", "LSTMForecaster",
           "NearestNeighbourConditioning", "NearestNeighbourPose", "QuantizedTransformerForecaster", "kmeans_codebook"]

BASELINES: dict[str, type] = {cls.name: cls for cls in (
    NearestNeighbourPose, NearestNeighbourConditioning, LSTMForecaster, CausalTransformerForecaster,
    QuantizedTransformerForecaster)}
"""The five Table 1 baselines by ``name``; neural ones rebuild with ``BASELINES[name](**config)``."""
