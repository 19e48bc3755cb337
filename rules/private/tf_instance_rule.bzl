"""The `<name>` target of tf_instance: render the instance tree, check it, write its manifest."""

load(":check.bzl", "component_sources", "fleet_check")
load(":check_mode.bzl", "CHECK_MODES", "effective_check")
load(":dep_claims.bzl", "check_against_deps")
load(":identity.bzl", "identity_claim", "instance_identity", "stamped_manifest")
load(":instance_check.bzl", "check_plan_env", "check_workspace", "render_check_args")
load(":labels.bzl", "label_string", "resolve_label_string")
load(":manifest.bzl", "instance_entry", "manifest_json")
load(":providers.bzl", "TfComponentInfo", "TfInstanceInfo")
load(":retry.bzl", "manifest_retry")
load(":run_dirs.bzl", "check_fleet_root", "check_same_fleet_root", "run_dir_claim", run_dir_of = "run_dir")
load(":run_tools.bzl", "RUNTIME_TERRAFORM_ATTRS", "runtime_terraform_of")
load(":secrets.bzl", "check_secret_env", "refuse_secrets")
load(":state_identity.bzl", "state_address", "state_claim")
load(":tf_provider.bzl", "manifest_providers")
load(":toolchain_types.bzl", "FLEET_TOOLCHAIN_TYPE", "TERRAFORM_TOOLCHAIN_TYPE")
load(":var_files.bzl", "var_file_name")

def _upstreams_by_reference(ctx):
    """`{written LABEL: the upstream Target}` from `inputs_from_targets` (Labels Bazel resolved)."""
    upstreams = {}
    for target, written in ctx.attr.inputs_from_targets.items():
        for text in json.decode(written):
            upstreams[text] = target
    return upstreams

def _inputs_from(ctx, label, dep_labels):
    """Parses `var = "LABEL#OUTPUT"` into manifest OutputRefs; each LABEL must be a dep.

    LABEL is matched as a Label (resolved by Bazel in the instance's repository), so an
    upstream in another repository matches its dep whatever name Bazel gives that repository.
    """
    upstreams = _upstreams_by_reference(ctx)
    deps = [dep.label for dep in ctx.attr.deps]
    refs = {}
    for var, ref in ctx.attr.inputs_from.items():
        if "#" not in ref:
            fail("%s: inputs_from[\"%s\"] = \"%s\" must be \"LABEL#OUTPUT\"" % (label, var, ref))
        target, output = ref.rsplit("#", 1)
        upstream = upstreams.get(target)
        if upstream:
            if upstream.label not in deps:
                fail("%s: inputs_from[\"%s\"] reads %s, which is not in deps" % (label, var, upstream[TfInstanceInfo].label))
            upstream_label = upstream[TfInstanceInfo].label
        else:
            upstream_label = resolve_label_string(target, ctx.label.package)
            if upstream_label not in dep_labels:
                fail("%s: inputs_from[\"%s\"] reads %s, which is not in deps" % (label, var, upstream_label))
        refs[var] = {"instance": upstream_label, "output": output}
    return refs

def _refuse_secrets(ctx, label, backend_config):
    """Fails analysis, naming the key path, on a credential-like key in vars, backend_config or env."""
    variables = json.decode(ctx.attr.vars_json)
    refuse_secrets(label, variables, backend_config, dict(ctx.attr.env), ctx.attr.allow_secret_like_keys)
    check_secret_env(label, dict(ctx.attr.secret_env), variables, dict(ctx.attr.inputs_from))

def _render(ctx, label, component, backend_config):
    """The instance tree; unless `check = "none"`, the render also fails on a variable the component does not declare."""
    tree = ctx.actions.declare_directory(ctx.label.name + ".rendered")
    backend_file = ctx.actions.declare_file(ctx.label.name + ".fleet/backend.tf.json")
    ctx.actions.write(backend_file, json.encode({"terraform": {"backend": {ctx.attr.backend: backend_config}}}))
    vars_file = ctx.actions.declare_file(ctx.label.name + ".fleet/terraform.tfvars.json")
    ctx.actions.write(vars_file, ctx.attr.vars_json)

    pairs = [(f.path, f.file) for f in component.files]
    pairs.append(("backend.tf.json", backend_file))
    pairs.append(("terraform.tfvars.json", vars_file))
    if component.lock_file:
        pairs.append((".terraform.lock.hcl", component.lock_file))
    for index, file in enumerate(ctx.files.var_files):
        pairs.append((var_file_name(index + 1, file), file))

    args = ctx.actions.args()
    args.add("render")
    args.add("--out", tree.path)
    if ctx.attr.check != "none":
        args.add_all(render_check_args(
            label,
            component.label,
            [(var_file_name(index + 1, file), file.short_path) for index, file in enumerate(ctx.files.var_files)],
            ctx.attr.inputs_from,
            ctx.attr.secret_env,
            ctx.attr.env,
        ))
    args.add("--")
    for path, file in pairs:
        args.add(path)
        args.add(file)
    ctx.actions.run(
        executable = ctx.toolchains[FLEET_TOOLCHAIN_TYPE].fleet.binary,
        arguments = [args],
        inputs = [file for _, file in pairs],
        outputs = [tree],
        mnemonic = "TerraformRender",
        progress_message = "Rendering Terraform instance %s" % ctx.label,
        execution_requirements = {"block-network": ""},
    )
    return struct(tree = tree, generated = [backend_file, vars_file])

def _plan_env_file(ctx):
    """The `TF_VAR_*` of the instance's env, for its check's plan: a file, so no value is on a command line."""
    plan_env = check_plan_env(ctx.attr.env)
    if not plan_env:
        return None
    file = ctx.actions.declare_file(ctx.label.name + ".fleet/check.env.json")
    ctx.actions.write(file, json.encode(plan_env))
    return file

def _check(ctx, terraform, tree, label, component):
    """The instance's build check: its result File, or None for `check = "none"`.

    The plan sees what the run will: the `TF_VAR_*` of `env`, and the workspace
    (`env`'s `TF_WORKSPACE`, which wins at run time, else `workspace`).
    """

    # secret_env is read from the environment at run time.
    run_time_vars = list(ctx.attr.inputs_from.keys()) + list(ctx.attr.secret_env.keys())
    mode = effective_check(ctx.attr.check, terraform, label, run_time_vars)
    if mode == "none":
        return None
    if mode == "validate":
        return component.validation
    sources = component_sources(component)
    sources.append("terraform.tfvars.json=%s vars" % label)
    for index, file in enumerate(ctx.files.var_files):
        sources.append("%s=%s" % (var_file_name(index + 1, file), file.short_path))
    return fleet_check(
        ctx,
        fleet = ctx.toolchains[FLEET_TOOLCHAIN_TYPE].fleet.binary,
        terraform = terraform,
        mode = "plan",
        out = ctx.actions.declare_file(ctx.label.name + ".check.json"),
        label = label,
        component = component,
        tree = tree,
        sources = sources,
        mocks = component.mocks + ctx.files.mocks,
        workspace = check_workspace(ctx.attr.env, ctx.attr.workspace),
        env_file = _plan_env_file(ctx),
    )

def _tf_instance_impl(ctx):
    label = label_string(ctx.label)
    package = ctx.label.package
    run_dir = run_dir_of(package, ctx.label.name)

    # The build check runs on the execution platform (a remote worker, maybe): its terraform.
    terraform = ctx.toolchains[TERRAFORM_TOOLCHAIN_TYPE].terraform

    # The run targets (`fleet tf`, `fleet run`) run on the machine running `bazel run`: the
    # manifest and the runfiles name the terraform of the target platform, which also makes
    # the plan the identity stands for.
    run_terraform = runtime_terraform_of(ctx)
    component = ctx.attr.component[TfComponentInfo]
    backend_config = json.decode(ctx.attr.backend_config_json)
    workspace = ctx.attr.workspace or None
    check_fleet_root(label, ctx.attr.fleet_root)
    _refuse_secrets(ctx, label, backend_config)

    deps = [dep[TfInstanceInfo] for dep in ctx.attr.deps]
    dep_labels = [dep.label for dep in deps]
    check_same_fleet_root(label, ctx.attr.fleet_root, deps)
    inputs_from = _inputs_from(ctx, label, dep_labels)

    rendered = _render(ctx, label, component, backend_config)
    tree = rendered.tree
    report = _check(ctx, terraform, tree, label, component)
    reports = [report] if report else []

    address = state_address(ctx.attr.backend, backend_config, workspace, ctx.attr.fleet_root, run_dir)
    check_against_deps(label, address, ctx.attr.fleet_root, run_dir, deps)
    transitive_states = depset(
        [state_claim(address, label)],
        transitive = [dep.transitive_states for dep in deps],
    )
    transitive_run_dirs = depset(
        [run_dir_claim(ctx.attr.fleet_root, run_dir, label)],
        transitive = [dep.transitive_run_dirs for dep in deps],
    )

    entry = instance_entry(
        label = label,
        name = ctx.label.name,
        rendered = tree.short_path,
        run_dir = run_dir,
        workspace = workspace,
        env = dict(ctx.attr.env),
        deps = dep_labels,
        inputs_from = inputs_from,
        secret_env = dict(ctx.attr.secret_env),
        exclusive = ctx.attr.exclusive,
        retry = manifest_retry(label, component.retry_json, ctx.attr.retry_json),
    )
    entry["providers"] = manifest_providers(
        component.providers,
        lock = tree.short_path + "/.terraform.lock.hcl" if component.lock_file else None,
        lock_target = component.lock_target,
    )
    transitive_entries = depset([json.encode(entry)], transitive = [dep.transitive_entries for dep in deps])
    fleet = ctx.toolchains[FLEET_TOOLCHAIN_TYPE].fleet.binary
    instance_id = instance_identity(
        ctx,
        fleet = fleet,
        terraform = run_terraform,
        tree = tree,
        providers = component.providers,
        settings = {
            "env": entry["env"],
            "inputs_from": inputs_from,
            "secret_env": entry.get("secret_env", {}),
            "workspace": workspace,
        },
        upstreams = {dep.label: dep.identity for dep in deps if dep.label in [ref["instance"] for ref in inputs_from.values()]},
    )
    transitive_identities = depset([instance_id], transitive = [dep.transitive_identities for dep in deps])
    transitive_identity_claims = depset(
        [identity_claim(label, instance_id)],
        transitive = [dep.transitive_identity_claims for dep in deps],
    )
    manifest = ctx.actions.declare_file(ctx.label.name + ".manifest.json")
    stamped_manifest(
        ctx,
        fleet = fleet,
        out = manifest,
        text = manifest_json(
            target = label,
            terraform = run_terraform.binary.short_path,
            fleet_root = ctx.attr.fleet_root,
            entries = [json.encode(entry)],
            includes = [dep.manifest.short_path for dep in deps],
        ),
        claims = [identity_claim(label, instance_id)],
        identities = depset([instance_id]),
    )
    run_files = depset(
        [tree, manifest] + reports + [p.archive for p in component.providers],
        transitive = [run_terraform.files] + [dep.run_files for dep in deps],
    )
    return [
        DefaultInfo(files = depset([tree] + reports)),
        OutputGroupInfo(
            manifest = depset([manifest]),
            identity = depset([instance_id]),
            rendered = depset([tree]),
            # The files rules_fleet writes into the tree (backend.tf.json, terraform.tfvars.json).
            generated = depset(rendered.generated),
            check = depset(reports),
        ),
        TfInstanceInfo(
            label = label,
            name = ctx.label.name,
            component = component.label,
            run_dir = run_dir,
            fleet_root = ctx.attr.fleet_root,
            rendered = tree,
            validation = report,
            manifest = manifest,
            workspace = workspace,
            env = dict(ctx.attr.env),
            secret_env = dict(ctx.attr.secret_env),
            deps = dep_labels,
            inputs_from = inputs_from,
            backend = ctx.attr.backend,
            backend_config = backend_config,
            state_address = address,
            state_identity = address,
            manifest_entry = entry,
            identity = instance_id,
            transitive_entries = transitive_entries,
            transitive_identities = transitive_identities,
            transitive_identity_claims = transitive_identity_claims,
            transitive_states = transitive_states,
            transitive_run_dirs = transitive_run_dirs,
            run_files = run_files,
            terraform = run_terraform,
        ),
    ]

tf_instance_rule = rule(
    implementation = _tf_instance_impl,
    doc = """Renders and checks one component instance (the `<name>` target of `tf_instance`).
Use the `tf_instance` macro, which fills `vars_json` and `backend_config_json`.""",
    attrs = dict({
        "component": attr.label(
            mandatory = True,
            providers = [TfComponentInfo],
            doc = "The `tf_component` this is an instance of.",
        ),
        "vars_json": attr.string(
            default = "{}",
            doc = "The instance's variables, JSON-encoded; written as terraform.tfvars.json.",
        ),
        "var_files": attr.label_list(
            allow_files = [".tfvars", ".json"],
            doc = "Variable files, loaded after `vars` in list order (later files win).",
        ),
        "backend": attr.string(
            default = "local",
            doc = "Backend type written to backend.tf.json.",
        ),
        "backend_config_json": attr.string(
            default = "{}",
            doc = "The effective backend configuration (defaults applied), JSON-encoded.",
        ),
        "workspace": attr.string(
            doc = "Terraform workspace; empty for `default`.",
        ),
        "deps": attr.label_list(
            providers = [TfInstanceInfo],
            doc = "Instances applied before this one.",
        ),
        "inputs_from": attr.string_dict(
            doc = "Variable name -> `LABEL#OUTPUT`: read from an upstream instance's outputs at run time. LABEL must be in deps.",
        ),
        "inputs_from_targets": attr.label_keyed_string_dict(
            providers = [TfInstanceInfo],
            doc = "The instances `inputs_from` reads, as Labels -> the JSON list of the ways its references write each (filled by the `tf_instance` macro).",
        ),
        "env": attr.string_dict(
            doc = "Extra environment for terraform at run time (never secrets).",
        ),
        "secret_env": attr.string_dict(
            doc = """Variable name -> environment variable name. `fleet tf` / `fleet run` read the
variable's value from that environment variable at run time; it is never rendered, so it never
enters action inputs, outputs or caches. Only the names are written, to the manifest. The root
module must declare the variable `sensitive = true` (fleet refuses it otherwise), and fleet hides
the value wherever terraform prints it.""",
        ),
        "allow_secret_like_keys": attr.string_list(
            doc = "Exact key names in `vars`, `backend_config` or `env` that look like secrets by name, or hold a value that looks like one, but are not (e.g. `auth_method`).",
        ),
        "exclusive": attr.bool(
            default = False,
            doc = "`fleet run` runs this instance alone: it starts when nothing else of the run runs, and nothing else starts while it does.",
        ),
        "retry_json": attr.string(
            doc = "The `retry` dict of the `tf_instance` macro as JSON (empty: none); its keys win over the component's (docs/retries.md).",
        ),
        "fleet_root": attr.string(
            default = ".fleet",
            doc = "Run directories live under `<workspace root>/<fleet_root>/<package>/<name>/`; relative, without `..`.",
        ),
        "check": attr.string(
            default = "plan",
            values = CHECK_MODES,
            doc = "Build-time check: `plan` (the instance's values planned against mock providers; `validate` on toolchains without mock providers, with a note), `validate` (the component's `terraform validate`, values ignored) or `none`.",
        ),
        "mocks": attr.label_list(
            allow_files = [".tfmock.hcl"],
            doc = "More `<provider>[.<anything>].tfmock.hcl` files for this instance's check, after the component's.",
        ),
    }, **RUNTIME_TERRAFORM_ATTRS),
    toolchains = [str(TERRAFORM_TOOLCHAIN_TYPE), str(FLEET_TOOLCHAIN_TYPE)],
    provides = [TfInstanceInfo],
)
