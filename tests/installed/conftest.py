"""The installed-tool test builds images with the real engine and pushes to the loopback
registry: the image tests' session fixtures, shared."""

from tests.images.conftest import base_image, docker_client, registry  # noqa: F401
