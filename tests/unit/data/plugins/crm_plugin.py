"""A node-kind plugin used by the CLI tests: importing it registers `crm_tag`."""

from typing import Literal

from jobs.spec.nodes import ActionNode, register_node_kind


@register_node_kind
class CrmTag(ActionNode):
    """Tag the user in a CRM."""

    type: Literal["crm_tag"]
    tag: str
