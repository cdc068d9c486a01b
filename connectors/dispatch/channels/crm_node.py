"""The `crm_sync` node kind: push fields of the user to the CRM (through the `crm` channel).

```yaml
sync: {type: crm_sync, object: contact, fields: {lifecycle_stage: "trial", plan: "{{ profile.plan }}"}, next: done}
```
Importing this module registers the kind; journeys load it with
`--plugin connectors.dispatch.channels.crm_node` (or `JOURNEYS_PLUGINS`).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from jobs.spec.nodes import ActionNode, node_kinds, register_node_kind


class CrmSyncNode(ActionNode):
    """Send the user's fields to the CRM; each field value is a template."""

    type: Literal["crm_sync"]
    channel: ClassVar[str | None] = "crm"
    object: str = Field(default="contact", min_length=1)
    fields: dict[str, str] = Field(default_factory=dict)


if node_kinds().get("crm_sync") is not CrmSyncNode:
    register_node_kind(CrmSyncNode, replace=True)
