#!/bin/sh
# Like the real base image's entrypoint when AWS_LAMBDA_RUNTIME_API is set: run the runtime
# interface client with the handler (CMD) as its argument.
exec python3 -m awslambdaric "$@"
