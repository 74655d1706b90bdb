"""patient360: de-identified patient 360 warehouse for internet hospitals."""

__version__ = "0.1.0"
