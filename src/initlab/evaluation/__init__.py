"""Evaluation of the trained models: final losses per split (evaluate) and the names each
model invents (sampling)."""
