"""What runs inside the emulator's own interpreter: `serve.py` is a script (`python serve.py`),
importing only moto, the standard library and its sibling `moto_iam`. The builder imports nothing
from here but `moto_iam`'s constants."""
