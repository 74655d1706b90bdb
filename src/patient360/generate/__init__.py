"""`patient360 generate`: synthetic exports. The implementation lives in patient360.synth."""

from patient360.synth import DEFAULT_END_DATE, GenerateSummary, generate_exports

__all__ = ["DEFAULT_END_DATE", "GenerateSummary", "generate_exports"]
