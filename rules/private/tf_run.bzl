"""The `<name>.plan|.apply|.destroy|.output` targets of tf_instance: `bazel run` launchers for `fleet tf`."""

load(":launcher.bzl", "LAUNCHER_ATTRS", "RUNFILES_ROOT", "runfile", "write_launcher")
load(":providers.bzl", "TfInstanceInfo")
load(":run_tools.bzl", "RUNTIME_FLEET_ATTRS", "runtime_fleet_of")

RUN_ACTIONS = ["plan", "apply", "destroy", "output"]

def _tf_run_impl(ctx):
    instance = ctx.attr.instance[TfInstanceInfo]

    # Runs on the machine running `bazel run`: the helper of the target platform.
    fleet = runtime_fleet_of(ctx)
    launcher = write_launcher(
        ctx,
        description = "terraform %s of %s through `fleet tf`; arguments go to terraform, run in the instance's run directory" % (ctx.attr.action, instance.label),
        command = [
            runfile(fleet.binary.short_path),
            "tf",
            "--manifest",
            runfile(instance.manifest.short_path),
            "--action",
            ctx.attr.action,
            "--only",
            instance.label,
            "--runfiles",
            RUNFILES_ROOT,
            "--",
        ],
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
    attrs = dict({
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
    }, **dict(LAUNCHER_ATTRS, **RUNTIME_FLEET_ATTRS)),
    executable = True,
)
