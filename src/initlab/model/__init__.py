"""The model: its shape (architecture), the character MLP and its layers with their
hand-written backward passes (mlp), and how its tensors are initialized (initialization)."""
