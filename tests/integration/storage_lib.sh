# Sourced by the test_storage_* tests after lib.sh: what the disk plugin holds on its drives,
# read from the .meta files (header: slice size at 12, length at 16, blob length at 32; then
# the blob and one 16-byte record per slice, bit 0 of the record's flags word = present).

# Prints one line per stored object under DIR: "<drive folder> <length> <present bytes>".
storage_objects() { # DIR
    python3 - "$1" <<'PYEOF'
import os, struct, sys
root = sys.argv[1]
for drive in sorted(os.listdir(root)):
    top = os.path.join(root, drive)
    if not os.path.isdir(top):
        continue
    for dirpath, _, files in os.walk(top):
        for f in files:
            if not f.endswith(".meta"):
                continue
            try:
                b = open(os.path.join(dirpath, f), "rb").read()
            except OSError:
                continue
            if len(b) < 88 or b[:7] != b"MCCOBJ1":
                continue
            slice_size, = struct.unpack_from("<I", b, 12)
            length, nslices, meta_len = struct.unpack_from("<QQQ", b, 16)
            present = 0
            for i in range(nslices):
                off = 88 + meta_len + 16 * i
                if off + 16 <= len(b) and struct.unpack_from("<I", b, off + 8)[0] & 1:
                    present += min(slice_size, length - i * slice_size)
            print(drive, length, present)
PYEOF
}

# Bytes of the regular files under DIR, in allocated blocks.
storage_file_bytes() { # DIR
    # files come and go while the daemon evicts: a vanished one is no error here. Tombstones
    # (*.reap: evicted files the reaper thread has yet to unlink) are not counted: their charge
    # was given back when they were evicted
    { find "$1" -type f ! -name '*.reap' -printf '%b\n' 2>/dev/null || true; } |
        awk '{ s += $1 * 512 } END { print s + 0 }'
}

# The value of a metric series from the admin /metrics page (first line matching NAME and the
# fixed string LABELS, e.g. 'drive="/x/c"'), or "none".
storage_metric() { # NAME [LABELS]
    curl -s "$MCC_ADMIN/metrics" | grep -E "^$1[{ ]" | grep -F -- "${2:-}" |
        awk '{ print $NF; found = 1; exit } END { if (!found) print "none" }'
}
