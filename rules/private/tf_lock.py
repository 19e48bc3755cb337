#!/usr/bin/env python3
"""A component's `.terraform.lock.hcl`: regenerate it (`<component>.lock`) or check it (`.lock_test`).

regenerate: copies the module into a scratch directory with the current lock
file, runs `terraform providers lock -fs-mirror=<mirror> -platform=...` there
(the mirror assembled from the given packages and filesystem mirror
directories), adds the `zh:` hash (sha256) of every package it locked, and
writes the result back into the source tree atomically, only when it changed.

check: fails when a provider the module requires is missing from the lock,
when a known package (any platform) matches none of its provider's hashes, or
when a provider has fewer `h1:` hashes than there are platforms to lock.

Only the standard library: it runs in `bazel run` and in `bazel test`.
"""

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

BLOCK = re.compile(r'^provider\s+"([^"]+)"\s*\{\n(.*?)^\}', re.M | re.S)
VERSION = re.compile(r'^\s*version\s*=\s*"([^"]*)"', re.M)
HASHES = re.compile(r'^([ \t]*)hashes\s*=\s*\[(.*?)\]', re.M | re.S)
HASH = re.compile(r'"([a-z0-9]+:[^"]+)"')
REQUIRED = re.compile(r"provider\[([^\]]+)\]")


class Failure(Exception):
    """A message for the user; the exit code is 1."""


def parse_lock(text):
    """{source: {"version": str, "hashes": [str]}} of a lock file's provider blocks."""
    blocks = {}
    for match in BLOCK.finditer(text):
        body = match.group(2)
        version = VERSION.search(body)
        hashes = HASHES.search(body)
        blocks[match.group(1)] = {
            "version": version.group(1) if version else "",
            "hashes": HASH.findall(hashes.group(2)) if hashes else [],
        }
    return blocks


def with_hashes(text, extra):
    """The lock text with `extra` ({source: set of hashes}) merged into each block, sorted like terraform does."""

    def block(match):
        source, body = match.group(1), match.group(2)
        add = extra.get(source)
        if not add:
            return match.group(0)

        def hashes(found):
            indent = found.group(1)
            merged = sorted(set(HASH.findall(found.group(2))) | add)
            lines = "".join('%s  "%s",\n' % (indent, h) for h in merged)
            return "%shashes = [\n%s%s]" % (indent, lines, indent)

        if not HASHES.search(body):
            return match.group(0)
        head = match.group(0)[: match.start(2) - match.start(0)]
        return head + HASHES.sub(hashes, body, count=1) + "}"


    return BLOCK.sub(block, text)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package_name(source, version, platform):
    return "terraform-provider-%s_%s_%s.zip" % (source.split("/")[-1], version, platform)


def copy_module(modules, dest):
    for path, file in modules:
        target = os.path.join(dest, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(file, target)


def terraform_env(scratch):
    """Nothing from the caller's terraform settings, no plugin cache, no checkpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    rc = os.path.join(scratch, "terraformrc")
    with open(rc, "w") as f:
        f.write("disable_checkpoint = true\n")
    env.update(
        TF_CLI_CONFIG_FILE=rc,
        TF_DATA_DIR=os.path.join(scratch, "data"),
        CHECKPOINT_DISABLE="1",
        TF_IN_AUTOMATION="1",
    )
    return env


def assemble_mirror(mirror, packages, mirror_dirs):
    """A packed filesystem mirror of symlinks: the packages first, then the directories' files."""
    for source, version, platform, zip_path in packages:
        link = os.path.join(mirror, source, package_name(source, version, platform))
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if not os.path.lexists(link):
            os.symlink(os.path.abspath(zip_path), link)
    for directory in mirror_dirs:
        if not os.path.isdir(directory):
            raise Failure("mirror directory %s does not exist" % directory)
        for root, _, files in os.walk(directory, followlinks=True):
            rel = os.path.relpath(root, directory)
            for name in files:
                link = os.path.normpath(os.path.join(mirror, rel, name))
                os.makedirs(os.path.dirname(link), exist_ok=True)
                if not os.path.lexists(link):
                    os.symlink(os.path.join(root, name), link)


def write_atomic(path, data):
    directory = os.path.dirname(path) or "."
    fd, staging = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(staging, 0o644)
        os.replace(staging, path)
    except BaseException:
        if os.path.exists(staging):
            os.unlink(staging)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def regenerate(args, user):
    root = os.environ.get("BUILD_WORKSPACE_DIRECTORY", "")
    if not root:
        raise Failure("run me with `bazel run %s` (BUILD_WORKSPACE_DIRECTORY is not set)" % args.label)
    dest = os.path.join(root, args.dest)
    platforms = list(args.platform) + list(user.platform)
    mirror_dirs = []
    for entry in args.mirror:
        path = entry[len("file://"):] if entry.startswith("file://") else entry
        mirror_dirs.append(path if os.path.isabs(path) else os.path.join(root, path))

    scratch = tempfile.mkdtemp(prefix="fleet-lock.")
    try:
        module = os.path.join(scratch, "module")
        copy_module(args.module, module)
        lock = os.path.join(module, ".terraform.lock.hcl")
        if os.path.exists(dest) and not user.fresh:
            shutil.copyfile(dest, lock)
        mirror = os.path.join(scratch, "mirror")
        os.makedirs(mirror)
        assemble_mirror(mirror, args.package, mirror_dirs)

        # The one deliberate exception to `-lockfile=readonly` (every init a build
        # action runs uses it): this `bazel run` target exists to write the lock
        # file, in a scratch copy of the module, published only after it succeeds.
        command = [os.path.abspath(args.terraform), "providers", "lock", "-fs-mirror=" + mirror]
        command += ["-platform=" + p for p in platforms]
        if not sys.stderr.isatty():
            command.append("-no-color")
        print("%s: terraform providers lock for %s" % (args.label, ", ".join(platforms)), file=sys.stderr)
        done = subprocess.run(command, cwd=module, env=terraform_env(scratch), stdout=sys.stderr)
        if done.returncode != 0:
            raise Failure("terraform providers lock failed (exit %d); is every provider in the mirror for every platform?" % done.returncode)
        if not os.path.exists(lock):
            print("%s: the module requires no provider; nothing to lock" % args.label, file=sys.stderr)
            return 0

        with open(lock) as f:
            text = f.read()
        zh = {}
        for source, block in parse_lock(text).items():
            for platform in platforms:
                package = os.path.join(mirror, source, package_name(source, block["version"], platform))
                if os.path.exists(package):
                    zh.setdefault(source, set()).add("zh:" + sha256_file(package))
        data = with_hashes(text, zh).encode()

        old = None
        if os.path.exists(dest):
            with open(dest, "rb") as f:
                old = f.read()
        if old == data:
            print("%s: %s unchanged" % (args.label, args.dest))
        else:
            write_atomic(dest, data)
            print("%s: %s updated" % (args.label, args.dest))
        return 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def required_providers(terraform, modules):
    """Source addresses the module's configuration requires (`terraform providers`, no init).

    No `terraform init` here: `providers` reads the configuration only and never
    writes a lock file, so the `.lock_test` action cannot change what it checks.
    """
    scratch = tempfile.mkdtemp(prefix="fleet-lock-check.")
    try:
        module = os.path.join(scratch, "module")
        copy_module(modules, module)
        done = subprocess.run(
            [os.path.abspath(terraform), "providers", "-no-color"],
            cwd=module,
            env=terraform_env(scratch),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            universal_newlines=True,
        )
        if done.returncode != 0:
            raise Failure("terraform providers failed:\n" + done.stdout)
        # Built-in providers (terraform_data, ...) ship with terraform and are never locked.
        return sorted(set(s for s in REQUIRED.findall(done.stdout) if not s.startswith("terraform.io/builtin/")))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def check(args):
    regenerate_hint = "regenerate it: bazel run %s" % args.lock_target
    if not args.lock or not os.path.exists(args.lock):
        raise Failure("the component has no lock file; create it with `bazel run %s` and set lock_file" % args.lock_target)
    with open(args.lock) as f:
        blocks = parse_lock(f.read())
    problems = []
    for source in required_providers(args.terraform, args.module):
        block = blocks.get(source)
        if block is None:
            problems.append("%s is required by the module but not in the lock file" % source)
        elif not block["version"] or not block["hashes"]:
            problems.append("%s has no version or no hashes in the lock file" % source)

    checked = {}
    for source, version, platform, zip_path in args.package:
        block = blocks.get(source)
        if block is None:
            problems.append("%s (package %s) is not in the lock file" % (source, os.path.basename(zip_path)))
            continue
        if block["version"] != version:
            problems.append("%s: the lock file has version %s, the package for %s is %s" % (source, block["version"], platform, version))
            continue
        zh = "zh:" + sha256_file(zip_path)
        done = subprocess.run([args.fleet, "hash", zip_path, "--format", "h1"], stdout=subprocess.PIPE, universal_newlines=True)
        h1 = done.stdout.strip()
        if done.returncode != 0 or not h1.startswith("h1:"):
            raise Failure("fleet hash %s failed" % zip_path)
        if h1 not in block["hashes"] and zh not in block["hashes"]:
            problems.append("%s %s lacks hashes for %s (the package has %s, %s)" % (source, version, platform, h1, zh))
        checked.setdefault(source, set()).add(platform)

    for source, block in sorted(blocks.items()):
        unchecked = [p for p in args.platform if p not in checked.get(source, set())]
        h1_count = len([h for h in block["hashes"] if h.startswith("h1:")])
        if unchecked and h1_count < len(args.platform):
            problems.append(
                "%s has %d h1: hash(es) for %d platforms (%s): a platform lacks hashes"
                % (source, h1_count, len(args.platform), ", ".join(args.platform))
            )

    if problems:
        raise Failure("the lock file %s is incomplete; %s\n  %s" % (args.lock_path, regenerate_hint, "\n  ".join(problems)))
    print("%s: %d provider(s) locked for %s" % (args.label, len(blocks), ", ".join(args.platform)))
    return 0


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    for name in ("regenerate", "check"):
        p = sub.add_parser(name)
        p.add_argument("--label", required=True, help="the target, for messages")
        p.add_argument("--terraform", required=True)
        p.add_argument("--platform", action="append", default=[], help="<os>_<arch> to lock")
        p.add_argument("--package", nargs=4, action="append", default=[], metavar=("SOURCE", "VERSION", "PLATFORM", "ZIP"))
        p.add_argument("--module", nargs=2, action="append", default=[], metavar=("PATH", "FILE"))
        if name == "regenerate":
            p.add_argument("--dest", required=True, help="the lock file, relative to the workspace root")
            p.add_argument("--mirror", action="append", default=[], help="filesystem mirror directory")
        else:
            p.add_argument("--fleet", required=True)
            p.add_argument("--lock", default="", help="the lock file (runfiles path)")
            p.add_argument("--lock-path", default=".terraform.lock.hcl", help="its path in the workspace")
            p.add_argument("--lock-target", required=True)
    if "--" in argv:
        at = argv.index("--")
        argv, rest = argv[:at], argv[at + 1 :]
    else:
        rest = []
    args = parser.parse_args(argv)
    user = argparse.ArgumentParser(prog="bazel run %s --" % getattr(args, "label", "<component>.lock"))
    user.add_argument("--platform", action="append", default=[], help="also lock for this <os>_<arch>")
    user.add_argument("--fresh", action="store_true", help="start from an empty lock file instead of the current one")
    return args, user.parse_args(rest)


def main(argv):
    args, user = parse_args(argv)
    try:
        if args.command == "regenerate":
            return regenerate(args, user)
        if args.command == "check":
            return check(args)
        raise Failure("unknown command")
    except Failure as e:
        print("%s: %s" % (args.label, e), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
