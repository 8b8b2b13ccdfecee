"""Readers for ringside tracer files (lane-NNNN.rstrace): decode, convert, verify continuity."""

from .reader import FormatError, lane_files, read_lane_file, read_trace

__all__ = ["FormatError", "lane_files", "read_lane_file", "read_trace"]
