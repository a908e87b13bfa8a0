"""fraudctl: render, validate, deploy and query the fraud-detection pipeline."""

__version__ = "0.1.0"
