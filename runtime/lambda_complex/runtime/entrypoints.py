"""The runtime's Lambda handlers, as an image's CMD or a function's `ImageConfig.Command` names
them (`module.function`). The image builder writes them into Dockerfiles, the templates into the
invoker's command, the local Lambda service runs them: all three import them from here.
"""

from __future__ import annotations

WRAPPER_HANDLER = "lambda_complex.runtime.wrapper.handler"  # CMD of every component image
COORDINATOR_HANDLER = "lambda_complex.runtime.coordinator.handler"  # CMD of the coordinator image
# The invoker runs from the coordinator image; its function's ImageConfig.Command selects it.
INVOKER_HANDLER = "lambda_complex.runtime.invoker.handler"

HANDLERS = (WRAPPER_HANDLER, COORDINATOR_HANDLER, INVOKER_HANDLER)
