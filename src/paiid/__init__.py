"""paiid: the machine-learning strategy engine of the PaiiD trading platform."""

__version__ = "0.1.0"
