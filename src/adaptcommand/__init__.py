"""AdaptCommand: personalising a small chat model to smart-home users, measured honestly."""

__version__ = "0.1.0"
