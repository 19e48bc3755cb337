"""tf_provider_mirror: the provider packages a lock file names, fetched for the host and verified against it."""

load(":exec_platforms.bzl", "host_platform")
load(":labels.bzl", "absolute_label")

_TF_PROVIDER_BZL = Label("//rules/private:tf_provider.bzl")
_FLEET = Label("@fleet_helper//:fleet")

def _read_lock(rctx, lock):
    """The provider blocks of the lock file, read by the helper's one lock-file reader.

    Returns:
      A list of `struct(source, version, h1, zh)` in file order.
    """
    done = rctx.execute([rctx.path(_FLEET), "lock-file", "list", "--json", str(lock)])
    if done.return_code != 0:
        fail("%s: cannot read the lock file %s: %s" % (rctx.name, rctx.attr.lock_file, done.stderr))
    return [
        struct(
            source = p["source"],
            version = p["version"],
            h1 = [h for h in p["hashes"] if h.startswith("h1:")],
            zh = [h for h in p["hashes"] if h.startswith("zh:")],
        )
        for p in json.decode(done.stdout)
    ]

def _host_platform(rctx):
    return rctx.attr.platform or host_platform(rctx)

def _regenerate_hint(rctx):
    if rctx.attr.lock_target:
        return "bazel run " + rctx.attr.lock_target
    lock = rctx.attr.lock_file
    return "bazel run //%s:<component>.lock" % lock.package

def _fetch(rctx, provider, platform, hint):
    parts = provider.source.split("/")
    if len(parts) != 3:
        fail("%s: %s in %s is not a full <host>/<namespace>/<type> address" % (rctx.name, provider.source, rctx.attr.lock_file))
    if not provider.version:
        fail("%s: %s has no version in %s; %s" % (rctx.name, provider.source, rctx.attr.lock_file, hint))
    if not provider.h1 and not provider.zh:
        fail("%s: the lock file %s has no hashes for %s %s; %s" % (rctx.name, rctx.attr.lock_file, provider.source, provider.version, hint))
    name = "terraform-provider-%s_%s_%s.zip" % (parts[2], provider.version, platform)
    path = "%s/%s" % (provider.source, name)
    urls = ["%s/%s" % (base.rstrip("/"), path) for base in rctx.attr.urls]
    rctx.report_progress("fetching %s %s for %s" % (provider.source, provider.version, platform))
    result = rctx.download(url = urls, output = path, allow_fail = True)
    if not result.success:
        fail("%s: cannot fetch %s %s for %s from %s" % (rctx.name, provider.source, provider.version, platform, ", ".join(urls)))

    # The lock file is the one source of truth: the package must match one of its hashes.
    # zh: is the zip's sha256, which Bazel computed while downloading.
    if provider.zh:
        if "zh:" + result.sha256 in provider.zh:
            return struct(path = path, name = name, provider = provider, sha256 = result.sha256)
        if not provider.h1:
            _refuse(rctx, provider, platform, path, "zh:" + result.sha256, provider.zh, hint)

    # h1: (Go dirhash of the zip's entries) needs the fleet helper.
    done = rctx.execute([rctx.path(_FLEET), "hash", path, "--format", "h1"])
    if done.return_code != 0:
        fail("%s: fleet hash %s failed: %s" % (rctx.name, path, done.stderr))
    h1 = done.stdout.strip()
    if h1 not in provider.h1:
        _refuse(rctx, provider, platform, path, "%s (zh:%s)" % (h1, result.sha256), provider.h1 + provider.zh, hint)
    return struct(path = path, name = name, provider = provider, sha256 = result.sha256)

def _refuse(rctx, provider, platform, path, got, wanted, hint):
    rctx.delete(path)
    fail(("%s: the package of %s %s for %s from %s does not match the lock file %s: it hashes to %s, " +
          "the lock file lists %s. Either the mirror serves a different (tampered or rebuilt) package, " +
          "or the lock file lacks this platform; %s") % (
        rctx.name,
        provider.source,
        provider.version,
        platform,
        ", ".join(rctx.attr.urls),
        rctx.attr.lock_file,
        got,
        ", ".join(wanted),
        hint,
    ))

def _target_names(fetched):
    """Each package's target name: its type, or `<namespace>_<type>` when two share a type."""
    types = {}
    for f in fetched:
        t = f.provider.source.split("/")[2]
        types[t] = types.get(t, 0) + 1
    names = []
    for f in fetched:
        host, namespace, t = f.provider.source.split("/")
        name = t if types[t] == 1 else "%s_%s_%s" % (host, namespace, t)
        names.append(name.replace(".", "_").replace("-", "_") if types[t] > 1 else name)
    return names

def _tf_provider_mirror_impl(rctx):
    lock = rctx.path(rctx.attr.lock_file)
    platform = _host_platform(rctx)
    hint = _regenerate_hint(rctx)
    providers = _read_lock(rctx, lock)
    if rctx.attr.providers:
        wanted = {s: True for s in rctx.attr.providers}
        missing = [s for s in rctx.attr.providers if s not in [p.source for p in providers]]
        if missing:
            fail("%s: the lock file %s has no entry for %s; %s" % (rctx.name, rctx.attr.lock_file, ", ".join(missing), hint))
        providers = [p for p in providers if p.source in wanted]
    if not providers:
        fail("%s: the lock file %s names no provider; %s" % (rctx.name, rctx.attr.lock_file, hint))

    fetched = [_fetch(rctx, p, platform, hint) for p in providers]
    lines = [
        "# Generated by rules_fleet's tf_provider_mirror from %s for %s." % (rctx.attr.lock_file, platform),
        'load("%s", "tf_provider_group", "tf_provider_package")' % absolute_label(_TF_PROVIDER_BZL),
        "",
        'package(default_visibility = ["//visibility:public"])',
        "",
        "exports_files(%r)" % [f.path for f in fetched],
    ]
    names = _target_names(fetched)
    for name, f in zip(names, fetched):
        lines += [
            "",
            "tf_provider_package(",
            "    name = %r," % name,
            "    archive = %r," % f.path,
            "    source = %r," % f.provider.source,
            "    version = %r," % f.provider.version,
            "    platform = %r," % platform,
            "    h1 = %r," % f.provider.h1,
            "    zh = %r," % f.provider.zh,
            "    sha256 = %r," % f.sha256,
            ")",
        ]
    lines += [
        "",
        "tf_provider_group(",
        '    name = "all",',
        "    packages = %r," % [":" + n for n in names],
        ")",
        "",
    ]
    rctx.file("BUILD.bazel", "\n".join(lines))
    rctx.file("WORKSPACE", "# Generated by rules_fleet.\n")

tf_provider_mirror = repository_rule(
    implementation = _tf_provider_mirror_impl,
    doc = """Reads a component's `.terraform.lock.hcl` and fetches the package of each provider it
locks, for the host platform, from a mirror in the packed layout
(`<base>/<host>/<namespace>/<type>/terraform-provider-<type>_<version>_<os>_<arch>.zip`).
Each package must match the lock file's hashes: its `zh:` (the sha256 Bazel computes while
downloading) when the lock file has `zh:` hashes, otherwise its `h1:` (`fleet hash --format
h1`). The lock file is the one source of truth: change it (`bazel run <component>.lock`) and
the repository is fetched again.

Targets: `@<name>//:<type>` per provider (`tf_provider_package`, carrying the lock file's
hashes) and `@<name>//:all`, for `tf_component(providers = ["@<name>//:all"])`.""",
    attrs = {
        "lock_file": attr.label(
            mandatory = True,
            allow_single_file = True,
            doc = "The component's `.terraform.lock.hcl`.",
        ),
        "urls": attr.string_list(
            mandatory = True,
            doc = "Mirror base URLs, tried in order (`https://`, `file:///abs/dir`).",
        ),
        "providers": attr.string_list(
            doc = "Only these source addresses (default: every provider in the lock file).",
        ),
        "platform": attr.string(
            doc = "`<os>_<arch>` to fetch (default: the host's).",
        ),
        "lock_target": attr.string(
            doc = "The component's `.lock` target, named in messages (e.g. `//infra/cache:cache.lock`).",
        ),
    },
)
