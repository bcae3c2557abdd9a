"""Counted links: a digest's links go through /r/, and clicks are counted per link without
knowing who clicked."""
