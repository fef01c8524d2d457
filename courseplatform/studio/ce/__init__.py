"""Continuing education in the studio: the creator's approvals as a provider, and each offering's CE details."""
