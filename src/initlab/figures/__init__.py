"""Figures (matplotlib, no pyplot state): the registry of every figure's key, title and caption
(registry), the shared look (style), and one module per subject: variants, theory, compare,
sweep, variance."""
