"""The image tests' helpers; their session fixtures (Docker engine, base image, registry, the
example application built once) are in tests/images/real_parts.py, shared by every folder."""

from tests.images.real_parts import HOST_CA_BUNDLE, ROOT, Built, Registry, copy_app

__all__ = ["HOST_CA_BUNDLE", "ROOT", "Built", "Registry", "copy_app"]
