"""Saved workflows (``*.json`` UI format for the template browser, ``api/*.json`` for POST /prompt);
``source/`` describes them once and writes both formats."""
