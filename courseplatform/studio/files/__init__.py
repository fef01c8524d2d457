"""The creator's file library in the studio."""
