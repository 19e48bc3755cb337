"""A remote-execution worker for rules_fleet's test engine (e2e/remote/engine).

Speaks the Remote Workers API (Bots: CreateBotSession / UpdateBotSession with
leases) to BuildGrid and the REAPI CAS (FindMissingBlobs, BatchReadBlobs,
BatchUpdateBlobs, ByteStream) on BuildGrid's own generated protos. For each
lease: fetch the Action, its Command and input root; run the command in a
fresh directory with exactly the action's environment (in a new network
namespace with only loopback, when this machine allows one: netns_exec.py); upload the declared outputs (files with
their executable bit, directories as Tree messages) and stdout/stderr; report
the ActionResult. Runs one lease at a time; the engine starts several.
"""

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import grpc

from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2 as re_pb2
from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2_grpc as re_grpc
from buildgrid._protos.google.bytestream import bytestream_pb2, bytestream_pb2_grpc
from buildgrid._protos.google.devtools.remoteworkers.v1test2 import bots_pb2, bots_pb2_grpc, worker_pb2
from buildgrid._protos.google.rpc import code_pb2

import worker_tree as tree

LOG = logging.getLogger("fleet-worker")
DEFAULT_TIMEOUT_SECONDS = 900
UPDATE_DEADLINE_SECONDS = 30
CREATE_DEADLINE_SECONDS = 3.5
BATCH_LIMIT = 2 * 1024 * 1024
NETNS_EXEC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "netns_exec.py")
BYTESTREAM_CHUNK = 1024 * 1024


class Cas:
    """The engine's CAS: reads and writes blobs, small ones in batches."""

    def __init__(self, channel, instance):
        self.instance = instance
        self.cas = re_grpc.ContentAddressableStorageStub(channel)
        self.bytestream = bytestream_pb2_grpc.ByteStreamStub(channel)

    def read(self, digest):
        if digest.size_bytes == 0:
            return b""
        if digest.size_bytes <= BATCH_LIMIT:
            return self.read_many([digest])[digest.hash]
        name = f"blobs/{digest.hash}/{digest.size_bytes}"
        if self.instance:
            name = f"{self.instance}/{name}"
        chunks = [r.data for r in self.bytestream.Read(bytestream_pb2.ReadRequest(resource_name=name))]
        data = b"".join(chunks)
        check_digest(digest, data)
        return data

    def read_many(self, digests):
        """Small blobs by hash, fetched in batches under the message limit."""
        found = {}
        batch, size = [], 0
        for digest in digests:
            if digest.size_bytes == 0:
                found[digest.hash] = b""
                continue
            if digest.size_bytes > BATCH_LIMIT:
                found[digest.hash] = self.read(digest)
                continue
            if size + digest.size_bytes > BATCH_LIMIT and batch:
                found.update(self._batch_read(batch))
                batch, size = [], 0
            batch.append(digest)
            size += digest.size_bytes
        if batch:
            found.update(self._batch_read(batch))
        return found

    def _batch_read(self, digests):
        response = self.cas.BatchReadBlobs(
            re_pb2.BatchReadBlobsRequest(instance_name=self.instance, digests=digests)
        )
        found = {}
        for item in response.responses:
            if item.status.code != code_pb2.OK:
                raise MissingBlob(item.digest)
            check_digest(item.digest, item.data)
            found[item.digest.hash] = item.data
        return found

    def upload(self, blobs):
        """Uploads {hash: (Digest, bytes or path)} that the CAS lacks."""
        if not blobs:
            return
        missing = self.cas.FindMissingBlobs(
            re_pb2.FindMissingBlobsRequest(instance_name=self.instance, blob_digests=[d for d, _ in blobs.values()])
        ).missing_blob_digests
        batch, size = [], 0
        for digest in missing:
            _, content = blobs[digest.hash]
            if digest.size_bytes > BATCH_LIMIT:
                self._stream_write(digest, content)
                continue
            if size + digest.size_bytes > BATCH_LIMIT and batch:
                self._batch_update(batch)
                batch, size = [], 0
            batch.append((digest, content))
            size += digest.size_bytes
        if batch:
            self._batch_update(batch)

    def _batch_update(self, batch):
        requests = [
            re_pb2.BatchUpdateBlobsRequest.Request(digest=digest, data=read_content(content))
            for digest, content in batch
        ]
        response = self.cas.BatchUpdateBlobs(
            re_pb2.BatchUpdateBlobsRequest(instance_name=self.instance, requests=requests)
        )
        for item in response.responses:
            if item.status.code != code_pb2.OK:
                raise RuntimeError(f"uploading {item.digest.hash}: {item.status.message}")

    def _stream_write(self, digest, content):
        name = f"uploads/{uuid.uuid4()}/blobs/{digest.hash}/{digest.size_bytes}"
        if self.instance:
            name = f"{self.instance}/{name}"
        data = read_content(content)

        def requests():
            offset = 0
            while True:
                chunk = data[offset : offset + BYTESTREAM_CHUNK]
                last = offset + len(chunk) >= len(data)
                yield bytestream_pb2.WriteRequest(
                    resource_name=name if offset == 0 else "", write_offset=offset, data=chunk, finish_write=last
                )
                offset += len(chunk)
                if last:
                    return

        self.bytestream.Write(requests())


class MissingBlob(Exception):
    def __init__(self, digest):
        super().__init__(f"blob {digest.hash}/{digest.size_bytes} is not in the CAS")


def check_digest(digest, data):
    actual = tree.digest_of(data)
    if actual.hash != digest.hash or actual.size_bytes != digest.size_bytes:
        raise RuntimeError(f"CAS returned other bytes for {digest.hash}/{digest.size_bytes}")


def read_content(content):
    if isinstance(content, bytes):
        return content
    with open(content, "rb") as f:
        return f.read()


class Executor:
    """Runs one action in a fresh directory and collects its ActionResult."""

    def __init__(self, cas, work_root, cache_dir, use_unshare):
        self.cas = cas
        self.work_root = work_root
        self.files = tree.FileCache(cache_dir, cas)
        self.use_unshare = use_unshare
        self.running = None  # the action's process, ended with the worker

    def kill_running(self):
        if self.running is not None and self.running.poll() is None:
            os.killpg(self.running.pid, signal.SIGKILL)

    def execute(self, action):
        command = re_pb2.Command.FromString(self.cas.read(action.command_digest))
        exec_root = os.path.join(self.work_root, uuid.uuid4().hex)
        os.makedirs(exec_root)
        try:
            tree.materialize(self.cas, self.files, action.input_root_digest, exec_root)
            cwd = os.path.join(exec_root, command.working_directory)
            outputs = list(command.output_paths) or list(command.output_files) + list(command.output_directories)
            for path in outputs:
                os.makedirs(os.path.dirname(os.path.join(cwd, path)) or cwd, exist_ok=True)
            timeout = action.timeout.seconds or DEFAULT_TIMEOUT_SECONDS
            exit_code, stdout, stderr = self._run(command, cwd, exec_root, timeout)
            result = re_pb2.ActionResult(exit_code=exit_code)
            blobs = {}
            for name, data in (("stdout", stdout), ("stderr", stderr)):
                digest = tree.digest_of(data)
                getattr(result, name + "_digest").CopyFrom(digest)
                blobs[digest.hash] = (digest, data)
            if exit_code == 0:
                tree.collect_outputs(command, cwd, result, blobs)
            self.cas.upload(blobs)
            return result
        finally:
            tree.remove_tree(exec_root)

    def _run(self, command, cwd, exec_root, timeout):
        env = {v.name: v.value for v in command.environment_variables}
        argv = list(command.arguments)
        stdout_path = exec_root + ".stdout"
        stderr_path = exec_root + ".stderr"
        env_path = exec_root + ".env.json"
        if self.use_unshare:
            with open(env_path, "w", encoding="utf-8") as f:
                json.dump(env, f)
            argv = [sys.executable, "-I", NETNS_EXEC, env_path] + argv
        try:
            with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
                try:
                    process = subprocess.Popen(
                        argv, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                except OSError as error:
                    err.write(f"fleet-worker: cannot start {argv[0]}: {error}\n".encode())
                    return 127, b"", _read(stderr_path)
                self.running = process
                try:
                    exit_code = process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    err.write(f"fleet-worker: timed out after {timeout}s\n".encode())
                    exit_code = 124
                finally:
                    self.running = None
            return exit_code, _read(stdout_path), _read(stderr_path)
        finally:
            for path in (stdout_path, stderr_path, env_path):
                if os.path.exists(path):
                    os.unlink(path)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def unshare_works():
    """A private network namespace needs CAP_SYS_ADMIN (or user namespaces); try it once."""
    try:
        probe = [sys.executable, "-I", NETNS_EXEC, "/dev/stdin", "true"]
        result = subprocess.run(probe, input=b'{"PATH": "/usr/bin:/bin"}', timeout=30)
        return result.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class Bot:
    def __init__(self, channel, name, instance, executor):
        self.bots = bots_pb2_grpc.BotsStub(channel)
        self.instance = instance
        self.executor = executor
        self.cas = executor.cas
        device = worker_pb2.Device(
            handle=name,
            properties=[
                worker_pb2.Device.Property(key="OSFamily", value="linux"),
                worker_pb2.Device.Property(key="ISA", value="x86-64"),
            ],
        )
        worker = worker_pb2.Worker(devices=[device], configs=[worker_pb2.Worker.Config(key="capacity", value="1")])
        self.session = bots_pb2.BotSession(bot_id=name, status=bots_pb2.OK, worker=worker)

    def open(self, wait_seconds):
        # A deadline this short makes BuildGrid answer at once instead of
        # long-polling for a first lease, so the engine knows the bot is up.
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                self.session = self.bots.CreateBotSession(
                    bots_pb2.CreateBotSessionRequest(parent=self.instance, bot_session=self.session),
                    timeout=CREATE_DEADLINE_SECONDS,
                )
                break
            except grpc.RpcError as error:
                retryable = error.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE)
                if not retryable or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        LOG.info("bot session %s", self.session.name)

    def serve(self):
        while True:
            for lease in self.session.leases:
                if lease.state == bots_pb2.ACTIVE:
                    self._work(lease)
            try:
                self.session = self.bots.UpdateBotSession(
                    bots_pb2.UpdateBotSessionRequest(name=self.session.name, bot_session=self.session),
                    timeout=UPDATE_DEADLINE_SECONDS,
                )
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise

    def _work(self, lease):
        started = time.monotonic()
        try:
            action = re_pb2.Action()
            if lease.payload.Is(re_pb2.Action.DESCRIPTOR):
                lease.payload.Unpack(action)
            else:
                digest = re_pb2.Digest()
                lease.payload.Unpack(digest)
                action = re_pb2.Action.FromString(self.cas.read(digest))
            result = self.executor.execute(action)
            lease.result.Pack(result)
            lease.status.code = code_pb2.OK
            LOG.info("lease %s: exit %d in %.1fs", lease.id, result.exit_code, time.monotonic() - started)
        except MissingBlob as error:
            lease.status.code = code_pb2.FAILED_PRECONDITION
            lease.status.message = str(error)
            LOG.warning("lease %s: %s", lease.id, error)
        except Exception as error:  # the lease must be answered whatever went wrong
            lease.status.code = code_pb2.INTERNAL
            lease.status.message = f"fleet-worker: {error}"
            LOG.exception("lease %s failed", lease.id)
        lease.state = bots_pb2.COMPLETED


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="host:port of the engine")
    parser.add_argument("--name", required=True, help="the bot's id")
    parser.add_argument("--work-root", required=True, help="directory for action dirs and the file cache")
    parser.add_argument("--instance", default="", help="REAPI instance name")
    parser.add_argument("--ready-file", help="created once the bot session is open")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    use_unshare = unshare_works()
    LOG.info("network isolation with unshare -n: %s", "yes" if use_unshare else "no (not permitted here)")
    os.makedirs(args.work_root, exist_ok=True)
    channel = grpc.insecure_channel(
        args.server,
        options=[("grpc.max_receive_message_length", 64 * 1024 * 1024),
                 ("grpc.max_send_message_length", 64 * 1024 * 1024)],
    )
    cas = Cas(channel, args.instance)
    executor = Executor(cas, os.path.join(args.work_root, "exec"), os.path.join(args.work_root, "files"), use_unshare)

    def stop(*_):
        executor.kill_running()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    bot = Bot(channel, args.name, args.instance, executor)
    bot.open(wait_seconds=180)
    if args.ready_file:
        with open(args.ready_file, "w") as f:
            f.write(bot.session.name + "\n")
    bot.serve()


if __name__ == "__main__":
    main()
