"""The `<name>.plan|.apply|.destroy|.output` targets of tf_instance: `bazel run` launchers for `fleet tf`."""

load(":providers.bzl", "TfInstanceInfo")
load(":shell.bzl", "shell_quote")
load(":toolchain_types.bzl", "FLEET_TOOLCHAIN_TYPE")

RUN_ACTIONS = ["plan", "apply", "destroy", "output"]

def _tf_run_impl(ctx):
    instance = ctx.attr.instance[TfInstanceInfo]
    fleet = ctx.toolchains[FLEET_TOOLCHAIN_TYPE].fleet
    launcher = ctx.actions.declare_file(ctx.label.name)
    ctx.actions.expand_template(
        template = ctx.file._launcher,
        output = launcher,
        substitutions = {
            # Labels hold no newline: the comment line can show them as they are.
            "{{ACTION_TEXT}}": ctx.attr.action,
            "{{LABEL_TEXT}}": instance.label,
            "{{ACTION}}": shell_quote(ctx.attr.action),
            "{{FLEET}}": shell_quote(fleet.binary.short_path),
            "{{LABEL}}": shell_quote(instance.label),
            "{{MANIFEST}}": shell_quote(instance.manifest.short_path),
            "{{WORKSPACE}}": shell_quote(ctx.workspace_name),
        },
        is_executable = True,
    )
    runfiles = ctx.runfiles(
        files = [fleet.binary],
        transitive_files = instance.run_files,
    )
    return [DefaultInfo(executable = launcher, runfiles = runfiles)]

tf_run = rule(
    implementation = _tf_run_impl,
    doc = """`bazel run` target running one terraform action for one instance through `fleet tf`:
in `<workspace root>/<fleet root>/<package>/<name>/`, with its own TF_DATA_DIR, holding the
instance's lock. Arguments after `--` go to terraform.""",
    attrs = {
        "instance": attr.label(
            mandatory = True,
            providers = [TfInstanceInfo],
            doc = "The instance (`tf_instance` `<name>` target).",
        ),
        "action": attr.string(
            mandatory = True,
            values = RUN_ACTIONS,
            doc = "The terraform action.",
        ),
        "_launcher": attr.label(
            default = Label("//rules/private:run.sh.tpl"),
            allow_single_file = True,
        ),
    },
    toolchains = [str(FLEET_TOOLCHAIN_TYPE)],
    executable = True,
)
