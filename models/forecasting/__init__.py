"""One-stage long-term 2D pose forecasting from one image and a short text (Li, Bellos, Corso).

See ``types.py`` for the data that flows between the encoders, the models, training and metrics.
"""

import os

# Checkpoints that ship inside the pack (the demo forecaster), see README "Pose forecasting".
BUNDLED_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           "assets", "forecast")
# Futures the bundled forecaster guesses per window (model.py: a single guess averages the modes away);
# the default of forecast-train and of ours in forecast-bench.
HYPOTHESES = 4
