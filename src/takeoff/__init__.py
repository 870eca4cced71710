"""takeoff: the control plane that takes AI use cases from pilot to production."""
__version__ = "0.1.0"
