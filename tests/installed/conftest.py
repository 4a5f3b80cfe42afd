"""The installed-tool test builds images with the real engine and pushes to the loopback
registry: the session fixtures of tests/images/real_parts.py (a plugin of the root conftest)."""
