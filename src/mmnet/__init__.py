"""MMNet reference pipeline: skeleton + RGB action recognition (Yu et al., T-PAMI 2022)."""

__version__ = "0.1.0"
