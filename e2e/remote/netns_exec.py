"""Runs a command in a new network namespace with only loopback, up: no network, but
programs that talk to their own children over 127.0.0.1 (terraform and its provider
plugins) still work, as in Bazel's own sandbox. `unshare -n` alone leaves loopback down.

    python3 -I netns_exec.py ENV_JSON COMMAND ARGS...

ENV_JSON is a file holding the command's environment as a JSON object: the command
gets exactly that, not this interpreter's (Python adds LC_CTYPE to its own when the
locale is C).
"""

import ctypes
import fcntl
import json
import os
import socket
import struct
import sys

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def enter_private_network():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"unshare(CLONE_NEWNET): {os.strerror(error)}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def main():
    if len(sys.argv) < 3:
        print("usage: netns_exec.py ENV_JSON COMMAND ARGS...", file=sys.stderr)
        return 2
    try:
        with open(sys.argv[1], encoding="utf-8") as f:
            env = json.load(f)
        enter_private_network()
    except (OSError, ValueError) as error:
        print(f"netns_exec: {error}", file=sys.stderr)
        return 126
    argv = sys.argv[2:]
    try:
        # Looks the command up on the command's own PATH, as a plain exec would.
        os.execvpe(argv[0], argv, env)
    except OSError as error:
        print(f"netns_exec: cannot run {argv[0]}: {error}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main())
