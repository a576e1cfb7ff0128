"""mlkata: from-scratch ML coding practice with a grader you can trust."""

__version__ = "0.1.0"
