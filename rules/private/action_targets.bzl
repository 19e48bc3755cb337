"""A target and its per-action `bazel run` targets: `<name>` and `<name>.<action>`.

`tf_instance` (`<name>.plan|.apply|.destroy|...` run `fleet tf`) and `tf_fleet`
(`<name>.plan|.apply|.destroy` run `fleet run`) declare their targets this way,
so both name, tag and expose them alike.

Pure Starlark (no `native`): loadable by the Buck2 rules too.
"""

def _merged(attrs, kwargs, name):
    """`attrs` plus the macro's pass-through `kwargs`; a key in both fails, as a repeated keyword would."""
    for key in kwargs:
        if key in attrs:
            fail("%s: %s is set by the macro itself; do not pass it" % (name, key))
    return dict(attrs, **kwargs)

def rule_with_action_targets(name, main_rule, action_rule, actions, link_attr, tags, visibility, kwargs, **attrs):
    """Declares `<name>` with `main_rule` and `<name>.<action>` with `action_rule` per action.

    Args:
      name: the main target's name.
      main_rule: the rule of `<name>`.
      action_rule: the rule of each `<name>.<action>`; it takes `action` and `link_attr`.
      actions: the actions, in declaration order.
      link_attr: the attribute of `action_rule` that names the main target.
      tags: tags of every target.
      visibility: visibility of every target.
      kwargs: the macro's pass-through arguments (e.g. `testonly`), given to every target.
      **attrs: the main target's own attributes.
    """
    main_rule(name = name, tags = tags, visibility = visibility, **_merged(attrs, kwargs, name))
    for action in actions:
        action_rule(
            name = "%s.%s" % (name, action),
            action = action,
            tags = tags,
            visibility = visibility,
            **_merged({link_attr: ":" + name}, kwargs, name)
        )
