"""initlab: a controlled study of weight initialization on a character-level MLP language model."""

__version__ = "0.1.0"
