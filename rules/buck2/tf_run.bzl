"""The `<name>.plan|.apply|.destroy|.output` targets of tf_instance (Buck2): `buck2 run` runs `fleet tf`."""

load(":providers.bzl", "FleetHelperInfo", "TfInstanceInfo")
load(":run_files.bzl", "fleet_command", "runfiles_tree")

RUN_ACTIONS = ["plan", "apply", "destroy", "output"]

def _tf_run_impl(ctx):
    instance = ctx.attrs.instance[TfInstanceInfo]
    tree = runfiles_tree(ctx, ctx.label.name + ".runfiles", instance.run_files)
    command = fleet_command(
        ctx,
        fleet = ctx.attrs._fleet[FleetHelperInfo].binary,
        subcommand = "tf",
        manifest = instance.manifest,
        tree = tree,
        run_files = instance.run_files,
        arguments = ["--action", ctx.attrs.action, "--only", instance.label],
        trailing = ["--"],
    )
    return [DefaultInfo(default_outputs = [instance.manifest], other_outputs = [tree]), RunInfo(args = command)]

tf_run = rule(
    impl = _tf_run_impl,
    doc = """`buck2 run` target running one terraform action for one instance through `fleet tf`:
in `<project root>/<fleet root>/<package>/<name>/`, with its own TF_DATA_DIR, holding the
instance's lock. Arguments after `--` go to terraform.""",
    attrs = {
        "action": attrs.enum(RUN_ACTIONS, doc = "The terraform action."),
        "instance": attrs.dep(providers = [TfInstanceInfo], doc = "The instance (`tf_instance` `<name>` target)."),
        "labels": attrs.list(attrs.string(), default = [], doc = "Free-form labels (the macro's `tags`)."),
        "_fleet": attrs.toolchain_dep(default = "toolchains//:fleet", providers = [FleetHelperInfo]),
    },
)
