"""The progress bar moved to :mod:`jwtobs.progress` (the scanner uses it in a core install, without the simulator)."""

from jwtobs.progress import ProgressBar

__all__ = ["ProgressBar"]
