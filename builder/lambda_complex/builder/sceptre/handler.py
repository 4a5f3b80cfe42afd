"""Template handler `lambda_complex`: renders a stack from lambda-complex.yaml, so `stacks/`
holds no templates. Stack config:

    template:
      type: lambda_complex
      stack: queues            # queues | functions | coordinator
    sceptre_user_data:
      images: !lc_image        # functions and coordinator stacks

The queues stack keeps the retiring queues of the deployed stack (read-only call). Every template
passes cfn-lint before Sceptre sees it.
"""

from __future__ import annotations

from typing import Any

from sceptre.template_handlers import TemplateHandler

from lambda_complex.builder.cfn import common
from lambda_complex.builder.cfn.images import Images
from lambda_complex.builder.deploy.aws import parse_template
from lambda_complex.builder.deploy.images import COORDINATOR_KEY
from lambda_complex.builder.errors import UserError
from lambda_complex.builder.sceptre import project, rendered
from lambda_complex.builder.sceptre.errors import as_sceptre_errors


class LambdaComplexHandler(TemplateHandler):  # type: ignore[misc]
    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "stack": {"type": "string", "enum": list(common.STACKS)},
                "app": {"type": "string"},
            },
            "required": ["stack"],
            "additionalProperties": False,
        }

    def _images(self, app_components: tuple[str, ...]) -> Images:
        data = (self.sceptre_user_data or {}).get("images")
        if not isinstance(data, dict):
            raise UserError(f"{self.name}: sceptre_user_data.images must be `!lc_image`")
        missing = [c for c in (*app_components, COORDINATOR_KEY) if c not in data]
        if missing:
            raise UserError(f"{self.name}: no image for {', '.join(missing)}")
        return Images(components={c: str(data[c]) for c in app_components},
                      coordinator=str(data[COORDINATOR_KEY]))

    def _deployed(self, stack_name: str) -> dict[str, Any] | None:
        try:
            self.connection_manager.call("cloudformation", "describe_stacks",
                                         {"StackName": stack_name})
        except Exception as e:
            if "does not exist" in str(e):
                return None
            raise
        body: Any = self.connection_manager.call(
            "cloudformation", "get_template",
            {"StackName": stack_name, "TemplateStage": "Original"})["TemplateBody"]
        return parse_template(body)

    @as_sceptre_errors
    def handle(self) -> str:
        region = getattr(self.connection_manager, "region", None)
        app = project.load_app(self.stack_group_config, self.arguments.get("app"), region=region)
        stack = self.arguments["stack"]
        if stack == common.QUEUES:
            deployed = self._deployed(common.stack_name(app, stack))
            return rendered.checked(app, stack, deployed=deployed)
        return rendered.checked(app, stack, self._images(app.component_names))
