"""Samplers on top of token masks."""

from outform.samplers.masked import SamplingParams, sample_token

__all__ = ["SamplingParams", "sample_token"]
