"""Cercle: a federated enterprise social network."""

__version__ = "0.1.0"
