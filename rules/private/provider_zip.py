#!/usr/bin/env python3
"""Writes a Terraform provider package (zip) reproducibly.

Same binary, same bytes: fixed timestamp, mode and compression level, one
entry. The layout is what `terraform providers mirror` produces and what a
packed filesystem mirror serves.
"""

import argparse
import os
import sys
import zipfile

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def write_package(binary, entry_name, zip_path):
    info = zipfile.ZipInfo(entry_name, date_time=FIXED_TIME)
    info.create_system = 3  # unix, so external_attr carries the mode
    info.external_attr = (0o100000 | 0o755) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    staging = "%s.tmp-%d" % (zip_path, os.getpid())
    try:
        with open(binary, "rb") as f:
            data = f.read()
        with zipfile.ZipFile(staging, "w") as zf:
            zf.writestr(info, data, compresslevel=6)
        os.replace(staging, zip_path)
    finally:
        if os.path.exists(staging):
            os.unlink(staging)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", required=True, help="the provider executable")
    parser.add_argument("--entry", required=True, help="its name in the zip: terraform-provider-<type>_v<version>")
    parser.add_argument("--zip", required=True, help="the package to write")
    args = parser.parse_args()
    write_package(args.binary, args.entry, args.zip)
    return 0


if __name__ == "__main__":
    sys.exit(main())
