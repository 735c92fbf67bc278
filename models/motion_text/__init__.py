"""The motion-text corpus (real motion from registry packages, captions derived from the motion) and
the text-motion evaluator trained on it. See ``corpus.py`` and ``evaluator.py``."""
