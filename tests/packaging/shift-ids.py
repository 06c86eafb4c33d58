#!/usr/bin/env python3
"""Shift the owners of a root file system by an offset, as `pct create`
does for an unprivileged container (container uid 0 = host uid OFFSET).

Usage: shift-ids.py ROOTFS OFFSET

chown clears set-user-ID and set-group-ID bits, so they are put back.
(File capabilities would be lost too; the appliance's image has none.)
"""
import os
import stat
import sys


def shift(path, offset):
    st = os.lstat(path)
    os.lchown(path, st.st_uid + offset, st.st_gid + offset)
    if not stat.S_ISLNK(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
        os.chmod(path, stat.S_IMODE(st.st_mode))


def main():
    root, offset = sys.argv[1], int(sys.argv[2])
    shift(root, offset)
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            shift(os.path.join(top, name), offset)


if __name__ == "__main__":
    main()
