"""GrowthKit Activity: self-hostable activity tracking for fingerprinted leads."""

__version__ = "0.1.0"
