"""The `<name>` target of tf_instance (Buck2): render the instance tree, check it, write its manifest.

The same actions, arguments and checks as the Bazel rule (rules/private/tf_instance_rule.bzl),
through the shared pure Starlark of rules/private.
"""

load("//rules/private:check_mode.bzl", "CHECK_MODES", "effective_check")
load("//rules/private:dep_claims.bzl", "check_against_deps")
load("//rules/private:instance_check.bzl", "check_plan_env", "check_workspace", "render_check_args")
load("//rules/private:manifest.bzl", "instance_entry", "manifest_json")
load("//rules/private:retry.bzl", "manifest_retry")
load("//rules/private:run_dirs.bzl", "check_fleet_root", "check_same_fleet_root", "run_dir_claim", run_dir_of = "run_dir")
load("//rules/private:secrets.bzl", "check_secret_env", "refuse_secrets")
load("//rules/private:state_identity.bzl", "state_address", "state_claim")
load("//rules/private:var_files.bzl", "var_file_name")
load(":check.bzl", "fleet_check")
load(":identity.bzl", "instance_identity", "stamped_manifest")
load(":json.bzl", "sorted_json")
load(":ordered.bzl", "merged_dicts", "ordered_union")
load(":providers.bzl", "FleetHelperInfo", "TerraformInfo", "TfComponentInfo", "TfInstanceInfo")

def _inputs_from(ctx, label, dep_labels):
    """Parses `var = "LABEL#OUTPUT"` (LABEL canonical: the macro resolved it) into manifest OutputRefs."""
    refs = {}
    for var, ref in ctx.attrs.inputs_from.items():
        upstream, output = ref.rsplit("#", 1)
        if upstream not in dep_labels:
            fail("%s: inputs_from[\"%s\"] reads %s, which is not in deps" % (label, var, upstream))
        refs[var] = {"instance": upstream, "output": output}
    return refs

def _render(ctx, label, component, backend_config):
    """`fleet render` of the module, the generated files and the var files into `<name>.rendered`.

    Unless `check = "none"`, the render also fails on a variable the component does not declare.
    """
    tree = ctx.actions.declare_output(ctx.label.name + ".rendered", dir = True)
    backend_file = ctx.actions.write(
        ctx.label.name + ".fleet/backend.tf.json",
        sorted_json({"terraform": {"backend": {ctx.attrs.backend: backend_config}}}),
    )
    vars_file = ctx.actions.write(ctx.label.name + ".fleet/terraform.tfvars.json", ctx.attrs.vars_json)
    pairs = [(f.path, f.file) for f in component.files]
    pairs.append(("backend.tf.json", backend_file))
    pairs.append(("terraform.tfvars.json", vars_file))
    if component.lock_file:
        pairs.append((".terraform.lock.hcl", component.lock_file))
    for index, file in enumerate(ctx.attrs.var_files):
        pairs.append((var_file_name(index + 1, file), file))
    cmd = cmd_args(ctx.attrs._fleet[FleetHelperInfo].binary, "render", "--out", tree.as_output())
    if ctx.attrs.check != "none":
        cmd.add(render_check_args(
            label,
            component.label,
            [(var_file_name(index + 1, file), ctx.attrs.path_prefix + file.short_path) for index, file in enumerate(ctx.attrs.var_files)],
            ctx.attrs.inputs_from,
            ctx.attrs.secret_env,
            ctx.attrs.env,
        ))
    cmd.add("--")
    for path, file in pairs:
        cmd.add(path, file)
    ctx.actions.run(cmd, category = "terraform_render")
    return struct(tree = tree, generated = [backend_file, vars_file])

def _check(ctx, terraform, tree, label, component):
    """The instance's build check: its result artifact, or None for `check = "none"`.

    The plan sees what the run will: the `TF_VAR_*` of `env`, and the workspace
    (`env`'s `TF_WORKSPACE`, which wins at run time, else `workspace`).
    """
    run_time_vars = list(ctx.attrs.inputs_from.keys()) + list(ctx.attrs.secret_env.keys())
    mode = effective_check(ctx.attrs.check, terraform, label, run_time_vars)
    if mode == "none":
        return None
    if mode == "validate":
        return component.validation
    sources = list(component.sources)
    sources.append("terraform.tfvars.json=%s vars" % label)
    for index, file in enumerate(ctx.attrs.var_files):
        sources.append("%s=%s%s" % (var_file_name(index + 1, file), ctx.attrs.path_prefix, file.short_path))
    return fleet_check(
        ctx,
        fleet = ctx.attrs._fleet[FleetHelperInfo].binary,
        terraform = terraform,
        mode = "plan",
        out = ctx.actions.declare_output(ctx.label.name + ".check.json"),
        label = label,
        component = component,
        tree = tree,
        sources = sources,
        mocks = component.mocks + ctx.attrs.mocks,
        workspace = check_workspace(ctx.attrs.env, ctx.attrs.workspace),
        env_file = _plan_env_file(ctx),
    )

def _plan_env_file(ctx):
    """The `TF_VAR_*` of the instance's env, for its check's plan: a file, so no value is on a command line."""
    plan_env = check_plan_env(ctx.attrs.env)
    if not plan_env:
        return None
    return ctx.actions.write(ctx.label.name + ".fleet/check.env.json", sorted_json(plan_env))

def _tf_instance_impl(ctx):
    label = ctx.attrs.label
    package = ctx.label.package
    run_dir = run_dir_of(package, ctx.label.name)
    terraform = ctx.attrs._terraform[TerraformInfo]
    fleet = ctx.attrs._fleet[FleetHelperInfo].binary
    component = ctx.attrs.component[TfComponentInfo]
    backend_config = json.decode(ctx.attrs.backend_config_json)
    workspace = ctx.attrs.workspace or None
    check_fleet_root(label, ctx.attrs.fleet_root)
    variables = json.decode(ctx.attrs.vars_json)
    refuse_secrets(label, variables, backend_config, dict(ctx.attrs.env), ctx.attrs.allow_secret_like_keys)
    check_secret_env(label, dict(ctx.attrs.secret_env), variables, dict(ctx.attrs.inputs_from))

    deps = [dep[TfInstanceInfo] for dep in ctx.attrs.deps]
    dep_labels = [dep.label for dep in deps]
    check_same_fleet_root(label, ctx.attrs.fleet_root, deps)
    inputs_from = _inputs_from(ctx, label, dep_labels)

    rendered = _render(ctx, label, component, backend_config)
    tree = rendered.tree
    report = _check(ctx, terraform, tree, label, component)
    reports = [report] if report else []

    address = state_address(ctx.attrs.backend, backend_config, workspace, ctx.attrs.fleet_root, run_dir)
    check_against_deps(label, address, ctx.attrs.fleet_root, run_dir, deps)
    transitive_states = ordered_union([state_claim(address, label)], [dep.transitive_states for dep in deps])
    transitive_run_dirs = ordered_union([run_dir_claim(ctx.attrs.fleet_root, run_dir, label)], [dep.transitive_run_dirs for dep in deps])

    rendered_path = ctx.attrs.path_prefix + ctx.label.name + ".rendered"
    entry = instance_entry(
        label = label,
        name = ctx.label.name,
        rendered = rendered_path,
        run_dir = run_dir,
        workspace = workspace,
        env = dict(ctx.attrs.env),
        deps = dep_labels,
        inputs_from = inputs_from,
        secret_env = dict(ctx.attrs.secret_env),
        exclusive = ctx.attrs.exclusive,
        retry = manifest_retry(label, component.retry_json, ctx.attrs.retry_json),
    )
    transitive_entries = ordered_union([json.encode(entry)], [dep.transitive_entries for dep in deps])
    readers = [ref["instance"] for ref in inputs_from.values()]
    instance_id = instance_identity(
        ctx,
        fleet = fleet,
        terraform = terraform,
        tree = tree,
        settings = {
            "env": entry["env"],
            "inputs_from": inputs_from,
            "secret_env": entry.get("secret_env", {}),
            "workspace": workspace,
        },
        upstreams = {dep.label: dep.identity for dep in deps if dep.label in readers},
    )
    transitive_identities = merged_dicts([dep.transitive_identities for dep in deps] + [{label: instance_id}])
    manifest = stamped_manifest(
        ctx,
        fleet = fleet,
        name = ctx.label.name + ".manifest.json",
        text = manifest_json(
            target = label,
            terraform = terraform.runfiles_path,
            fleet_root = ctx.attrs.fleet_root,
            entries = [json.encode(entry)],
            includes = [dep.manifest_path for dep in deps],
        ),
        identities = {label: instance_id},
    )
    manifest_path = ctx.attrs.path_prefix + ctx.label.name + ".manifest.json"
    own_files = {manifest_path: manifest, rendered_path: tree, terraform.runfiles_path: terraform.binary}
    if report:
        # Not read by fleet: listed so that running the instance builds its check first.
        own_files[ctx.attrs.path_prefix + ctx.label.name + ".report/" + report.basename] = report
    run_files = merged_dicts([own_files] + [dep.run_files for dep in deps])
    sub_targets = {
        "check": reports,
        "generated": rendered.generated,
        "identity": [instance_id],
        "manifest": [manifest],
        "rendered": [tree],
    }
    return [
        DefaultInfo(
            default_outputs = [tree] + reports,
            sub_targets = {name: [DefaultInfo(default_outputs = outs)] for name, outs in sub_targets.items()},
        ),
        TfInstanceInfo(
            backend = ctx.attrs.backend,
            backend_config = backend_config,
            component = component.label,
            deps = dep_labels,
            env = dict(ctx.attrs.env),
            fleet_root = ctx.attrs.fleet_root,
            identity = instance_id,
            inputs_from = inputs_from,
            label = label,
            manifest = manifest,
            manifest_entry = entry,
            manifest_path = manifest_path,
            name = ctx.label.name,
            rendered = tree,
            run_dir = run_dir,
            run_files = run_files,
            secret_env = dict(ctx.attrs.secret_env),
            state_address = address,
            state_identity = address,
            terraform = terraform,
            transitive_entries = transitive_entries,
            transitive_identities = transitive_identities,
            transitive_run_dirs = transitive_run_dirs,
            transitive_states = transitive_states,
            validation = report,
            workspace = workspace,
        ),
    ]

tf_instance_rule = rule(
    impl = _tf_instance_impl,
    doc = """Renders and checks one component instance (the `<name>` target of `tf_instance`).
Use the `tf_instance` macro, which fills `label`, `vars_json`, `backend_config_json` and the claims.""",
    attrs = {
        "allow_secret_like_keys": attrs.list(attrs.string(), default = [], doc = "Exact key names in `vars`, `backend_config` or `env` that look like secrets by name but are not."),
        "backend": attrs.string(default = "local", doc = "Backend type written to backend.tf.json."),
        "backend_config_json": attrs.string(default = "{}", doc = "The effective backend configuration (defaults applied), JSON-encoded."),
        "check": attrs.enum(CHECK_MODES, default = "plan", doc = "Build-time check: `plan`, `validate` or `none` (see tf_instance)."),
        "claims": attrs.list(attrs.dep(), default = [], doc = "The instance's claims on its state and run directory in its package (package_claims.bzl)."),
        "component": attrs.dep(providers = [TfComponentInfo], doc = "The `tf_component` this is an instance of."),
        "deps": attrs.list(attrs.dep(providers = [TfInstanceInfo]), default = [], doc = "Instances applied before this one."),
        "env": attrs.dict(attrs.string(), attrs.string(), default = {}, doc = "Extra environment for terraform at run time (never secrets)."),
        "exclusive": attrs.bool(default = False, doc = "`fleet run` runs this instance alone."),
        "fleet_root": attrs.string(default = ".fleet", doc = "Run directories live under `<project root>/<fleet_root>/<package>/<name>/`; relative, without `..`."),
        "inputs_from": attrs.dict(attrs.string(), attrs.string(), default = {}, doc = "Variable -> `LABEL#OUTPUT` with LABEL canonical (the macro resolves it); LABEL must be in deps."),
        "label": attrs.string(doc = "The instance's canonical label string (filled by the macro)."),
        "labels": attrs.list(attrs.string(), default = [], doc = "Free-form labels (the macro's `tags`)."),
        "mocks": attrs.list(attrs.source(), default = [], doc = "More `<provider>[.<anything>].tfmock.hcl` files for this instance's check."),
        "path_prefix": attrs.string(default = "", doc = "Runfiles path of this package (`pkg/`, `../cell/pkg/`), as manifests name files (filled by the macro)."),
        "retry_json": attrs.string(default = "", doc = "The `retry` dict of the `tf_instance` macro as JSON (empty: none); its keys win over the component's (docs/retries.md)."),
        "secret_env": attrs.dict(attrs.string(), attrs.string(), default = {}, doc = "Variable -> environment variable name read by `fleet tf` / `fleet run` at run time."),
        "var_files": attrs.list(attrs.source(), default = [], doc = "Variable files, loaded after `vars` in list order."),
        "vars_json": attrs.string(default = "{}", doc = "The instance's variables as sorted JSON; written as terraform.tfvars.json."),
        "workspace": attrs.string(default = "", doc = "Terraform workspace; empty for `default`."),
        "_fleet": attrs.toolchain_dep(default = "toolchains//:fleet", providers = [FleetHelperInfo]),
        "_terraform": attrs.toolchain_dep(default = "toolchains//:terraform", providers = [TerraformInfo]),
    },
)
