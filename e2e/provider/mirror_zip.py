#!/usr/bin/env python3
"""Writes one provider package (a zip) reproducibly and prints its zh: hash.

Same inputs give the same bytes: fixed timestamps and modes, fixed order,
and padding that is pseudo-random (incompressible) but derived from a fixed
seed, so a lock file recorded once stays valid for every rebuild.
"""

import argparse
import hashlib
import os
import sys
import zipfile

PADDING_NAME = "fleettest-padding.bin"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
MIB = 1 << 20


def entry(name, mode):
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.create_system = 3  # unix, so external_attr carries the mode
    info.external_attr = (0o100000 | mode) << 16
    return info


def padding_chunk(index):
    return hashlib.shake_256(b"fleettest-padding:%d" % index).digest(MIB)


def write_package(binary, binary_name, zip_path, pad_mb):
    staging = "%s.tmp-%d" % (zip_path, os.getpid())
    try:
        with zipfile.ZipFile(staging, "w") as zf:
            info = entry(binary_name, 0o755)
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(binary, "rb") as f:
                zf.writestr(info, f.read(), compresslevel=6)
            if pad_mb > 0:
                info = entry(PADDING_NAME, 0o644)
                info.compress_type = zipfile.ZIP_STORED
                info.file_size = pad_mb * MIB
                with zf.open(info, "w") as out:
                    for index in range(pad_mb):
                        out.write(padding_chunk(index))
        with open(staging, "rb") as f:
            os.fsync(f.fileno())
        os.replace(staging, zip_path)
    finally:
        if os.path.exists(staging):
            os.unlink(staging)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            digest.update(block)
    return digest.hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", required=True, help="provider executable to pack")
    parser.add_argument("--binary-name", required=True, help="its name inside the zip")
    parser.add_argument("--zip", required=True, help="zip file to write")
    parser.add_argument("--pad-mb", type=int, default=0, help="MiB of padding to add")
    args = parser.parse_args()
    if args.pad_mb < 0:
        parser.error("--pad-mb must not be negative")
    write_package(args.binary, args.binary_name, args.zip, args.pad_mb)
    print(os.path.abspath(args.zip))
    print("zh:" + sha256_file(args.zip))


if __name__ == "__main__":
    sys.exit(main())
