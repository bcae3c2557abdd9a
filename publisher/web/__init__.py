"""The HTTP side: feeds served as readers expect, release pages, subscriptions."""
