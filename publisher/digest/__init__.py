"""Digest emails: select what is new, render once per edition, deliver to each subscriber once."""
