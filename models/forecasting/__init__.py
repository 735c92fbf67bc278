"""One-stage long-term 2D pose forecasting from one image and a short text (Li, Bellos, Corso).

See ``types.py`` for the data that flows between the encoders, the models, training and metrics.
"""
