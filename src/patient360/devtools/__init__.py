"""Developer tools behind `patient360 dev ...` (they edit files of the checkout, never data)."""
