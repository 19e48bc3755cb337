"""Input roots in, outputs out: the file-tree half of the test engine's worker.

Inputs are laid out from the CAS through a per-worker file cache (one
read-only copy per digest and executable bit); small files are copied into the
action's directory, large ones (tool binaries, archives) hard-linked. Outputs
are hashed where the action left them: files as OutputFile (keeping the
executable bit), directories as a Tree message of all their Directory nodes.
"""

import hashlib
import os
import shutil
import stat
import uuid

from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2 as re_pb2

LINK_ABOVE_BYTES = 4 * 1024 * 1024


def digest_of(data):
    return re_pb2.Digest(hash=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


def digest_of_file(path):
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            h.update(chunk)
            size += len(chunk)
    return re_pb2.Digest(hash=h.hexdigest(), size_bytes=size)


class FileCache:
    """Blobs on local disk, fetched from the CAS once, published by rename."""

    def __init__(self, root, cas):
        self.root = root
        self.cas = cas
        os.makedirs(root, exist_ok=True)

    def path(self, digest, executable):
        return os.path.join(self.root, f"{digest.hash}-{digest.size_bytes}-{'x' if executable else 'r'}")

    def ensure(self, nodes):
        """nodes: (digest, executable) pairs; fetches the missing ones."""
        missing = {}
        for digest, executable in nodes:
            if not os.path.exists(self.path(digest, executable)):
                missing.setdefault(digest.hash, (digest, []))[1].append(executable)
        if not missing:
            return
        blobs = self.cas.read_many([digest for digest, _ in missing.values()])
        for digest, modes in missing.values():
            for executable in set(modes):
                staging = os.path.join(self.root, f".staging-{uuid.uuid4().hex}")
                with open(staging, "wb") as f:
                    f.write(blobs[digest.hash])
                os.chmod(staging, 0o555 if executable else 0o444)
                os.replace(staging, self.path(digest, executable))

    def place(self, digest, executable, dest):
        source = self.path(digest, executable)
        if digest.size_bytes > LINK_ABOVE_BYTES:
            os.link(source, dest)
        else:
            shutil.copyfile(source, dest)
            os.chmod(dest, 0o755 if executable else 0o644)


def materialize(cas, files, root_digest, dest):
    """Lays the input root `root_digest` out under `dest`."""
    directories = {}
    pending = [root_digest]
    while pending:
        fetched = cas.read_many([d for d in pending if d.hash not in directories])
        pending = []
        for blob_hash, data in fetched.items():
            directory = re_pb2.Directory.FromString(data)
            directories[blob_hash] = directory
            pending.extend(node.digest for node in directory.directories)
    file_nodes = []
    _walk(directories, root_digest.hash, dest, file_nodes)
    files.ensure([(node.digest, node.is_executable) for _, node in file_nodes])
    for path, node in file_nodes:
        files.place(node.digest, node.is_executable, path)


def _walk(directories, digest_hash, path, file_nodes):
    os.makedirs(path, exist_ok=True)
    directory = directories[digest_hash]
    for node in directory.files:
        file_nodes.append((os.path.join(path, node.name), node))
    for node in directory.symlinks:
        os.symlink(node.target, os.path.join(path, node.name))
    for node in directory.directories:
        _walk(directories, node.digest.hash, os.path.join(path, node.name), file_nodes)


def collect_outputs(command, cwd, result, blobs):
    """Adds the outputs the action left to `result`, their blobs to `blobs`."""
    if command.output_paths:
        paths = [(p, None) for p in command.output_paths]
    else:
        paths = [(p, False) for p in command.output_files] + [(p, True) for p in command.output_directories]
    for relative, is_directory in paths:
        full = os.path.join(cwd, relative)
        if not os.path.exists(full):
            continue  # the client reports a missing output itself
        if os.path.isdir(full) and is_directory is not False:
            tree_message = _tree(full, blobs)
            data = tree_message.SerializeToString()
            digest = digest_of(data)
            blobs[digest.hash] = (digest, data)
            result.output_directories.add(path=relative, tree_digest=digest)
        elif os.path.isfile(full) and is_directory is not True:
            digest = digest_of_file(full)
            blobs[digest.hash] = (digest, full)
            result.output_files.add(path=relative, digest=digest, is_executable=_executable(full))


def _executable(path):
    return bool(os.stat(path).st_mode & stat.S_IXUSR)


def _tree(root, blobs):
    children = {}
    root_directory = _directory(root, blobs, children)
    return re_pb2.Tree(root=root_directory, children=list(children.values()))


def _directory(path, blobs, children):
    directory = re_pb2.Directory()
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if os.path.isdir(full):
            child = _directory(full, blobs, children)
            data = child.SerializeToString()
            digest = digest_of(data)
            children[digest.hash] = child
            directory.directories.add(name=name, digest=digest)
        elif os.path.isfile(full):
            digest = digest_of_file(full)
            blobs[digest.hash] = (digest, full)
            directory.files.add(name=name, digest=digest, is_executable=_executable(full))
        elif os.path.islink(full):
            directory.symlinks.add(name=name, target=os.readlink(full))
    return directory


def remove_tree(path):
    """Removes an action's directory even where it left read-only dirs."""

    def make_writable_and_retry(function, failed_path, _):
        os.chmod(os.path.dirname(failed_path), 0o700)
        if os.path.isdir(failed_path) and not os.path.islink(failed_path):
            os.chmod(failed_path, 0o700)
        function(failed_path)

    if os.path.exists(path):
        shutil.rmtree(path, onerror=make_writable_and_retry)
