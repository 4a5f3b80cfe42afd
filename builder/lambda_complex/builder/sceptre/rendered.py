"""Each stack's template rendered and linted once per `sceptre` run: the switchover hook's
preflight renders every stack, then Sceptre asks the template handler for each again, with the
same inputs. A template is kept for the same definition (the App object `project.load_app`
hands out per version of the file), stack, images and deployed queues template; any other
input renders anew."""

from __future__ import annotations

import json
import threading
from typing import Any

from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn import common, render
from lambda_complex.builder.cfn.images import Images

# (id of the App, stack, images, deployed template) -> (the App, its body). The App is kept in
# the value so that its id is never reused while the entry lives (and compared on a hit).
_bodies: dict[tuple[int, str, str, str], tuple[App, str]] = {}
_lock = threading.Lock()


def _key(app: App, stack: str, images: Images | None, deployed: dict[str, Any] | None
         ) -> tuple[int, str, str, str]:
    shown = None if images is None else [sorted(images.components.items()), images.coordinator]
    return (id(app), stack, json.dumps(shown), json.dumps(deployed, sort_keys=True, default=str))


def checked(app: App, stack: str, images: Images | None = None,
            deployed: dict[str, Any] | None = None) -> str:
    """`render.render_checked`, from this run's earlier rendering of the same inputs if any."""
    if stack == common.QUEUES:
        images = None  # the queues stack has no image; the others keep no queues
    else:
        deployed = None
    key = _key(app, stack, images, deployed)
    with _lock:
        found = _bodies.get(key)
    if found is not None and found[0] is app:
        return found[1]
    body = render.render_checked(app, stack, images, deployed)
    with _lock:
        _bodies[key] = (app, body)
    return body


def forget() -> None:
    """Drop every kept template (tests)."""
    with _lock:
        _bodies.clear()
