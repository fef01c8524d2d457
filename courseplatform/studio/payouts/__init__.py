"""Payouts in the studio: connecting Stripe, and the ledger of what every sale earned."""
