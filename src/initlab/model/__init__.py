"""The model: its shape (architecture), the character MLP and its layers with their
hand-written backward passes (mlp), the residual family built from those layers with LayerNorm
and the factory for either family (residual), and how its tensors are initialized
(initialization)."""
