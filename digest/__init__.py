"""paper digest: a daily email of the research papers that matter to each subscriber."""

__version__ = "0.1.0"
