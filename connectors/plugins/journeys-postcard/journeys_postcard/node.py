"""The `postcard` node kind (loaded through the `journeys.node_kinds` entry point).

```yaml
thank_you: {type: postcard, template: thank_you_card, next: done}
```
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from jobs.spec.nodes import ActionNode, node_kinds, register_node_kind


class PostcardNode(ActionNode):
    """Mail the user a printed postcard rendered from a `postcard` template."""

    type: Literal["postcard"]
    channel: ClassVar[str | None] = "postcard"
    template: str = Field(min_length=1)
    category: str = Field(default="marketing", min_length=1)


def register() -> None:
    """Make `postcard` a node kind, and tell the interpreter how to emit its actions (if present)."""
    if node_kinds().get("postcard") is not PostcardNode:
        register_node_kind(PostcardNode, replace=True)
    try:
        from operators.core.plugins import ActionDraft, register_action_plugin
    except ImportError:  # a dispatcher-only installation
        return

    class _Draft:
        def draft(self, node: PostcardNode) -> ActionDraft:  # type: ignore[override]
            return ActionDraft(channel="postcard", template=node.template, is_message=True, category=node.category)

    register_action_plugin("postcard", _Draft(), replace=True)


register()
