"""Emulators: networks, PCA, transforms, training, the Emulator object and its file format."""
