"""Infrastructure shared by every part: errors, logging, subprocesses, timing, files, lazy imports."""
