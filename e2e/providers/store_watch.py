#!/usr/bin/env python3
"""Counts what happens in a fleet store, as the kernel reports it (inotify).

Usage: store_watch.py STORE READY_FIFO
Watches STORE/.staging (every extraction unpacks into a new directory there)
and STORE (every published version is renamed into it). Writes one line to
READY_FIFO once both watches are in place, then, when a directory named
`stop` appears in STORE/.staging, prints `staged=N published=M` and exits.
Events arrive in order, so everything before `stop` has been counted.
"""

import ctypes
import os
import struct
import sys

IN_CREATE = 0x00000100
IN_MOVED_TO = 0x00000080
IN_ISDIR = 0x40000000
EVENT = struct.Struct("iIII")


def main():
    store, ready = sys.argv[1], sys.argv[2]
    staging = os.path.join(store, ".staging")
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init()
    if fd < 0:
        sys.exit("inotify_init failed: errno %d" % ctypes.get_errno())
    watches = {}
    for path in (staging, store):
        wd = libc.inotify_add_watch(fd, path.encode(), IN_CREATE | IN_MOVED_TO)
        if wd < 0:
            sys.exit("inotify_add_watch %s failed: errno %d" % (path, ctypes.get_errno()))
        watches[wd] = path
    with open(ready, "w") as f:
        f.write("ready\n")
    staged = published = 0
    while True:
        data = os.read(fd, 1 << 16)
        offset = 0
        while offset < len(data):
            wd, mask, _, length = EVENT.unpack_from(data, offset)
            name = data[offset + EVENT.size : offset + EVENT.size + length].rstrip(b"\0").decode()
            offset += EVENT.size + length
            if not mask & IN_ISDIR:
                continue
            if watches[wd] == staging:
                if name == "stop" and mask & IN_CREATE:
                    print("staged=%d published=%d" % (staged, published))
                    return 0
                if mask & IN_CREATE:
                    staged += 1
            elif mask & IN_MOVED_TO and not name.startswith("."):
                published += 1


if __name__ == "__main__":
    sys.exit(main())
