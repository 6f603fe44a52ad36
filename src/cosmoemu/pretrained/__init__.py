"""Shipped pre-trained emulators (model files in ``models/``, names in ``registry.json``)."""
