/* The disk storage backend's private types and the functions its files share. Each object is a
 * sparse .data file plus a .meta file (header, the daemon's blob, one record per slice). */
#ifndef MCC_DISK_H
#define MCC_DISK_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include <mcc/mcc.h>
#include <uthash.h>
#include <xxhash.h>
#ifdef MCC_XXH_DISPATCH
#include <xxh_x86dispatch.h> /* the widest vector unit at run time, for the bodies' sums */
#endif

#define DISK_MAX_DRIVES 64
#define DISK_MIN_DRIVE_SIZE (1024u * 1024u)
#define DISK_HEX_LEN (MCC_KEY_LEN * 2)
#define DISK_PATH_MAX 4096
#define DISK_SCRATCH_LEN (64u * 1024u)
#define DISK_META_MAX (16u * 1024u * 1024u) /* a sanity bound on the daemon's blob */
#define DISK_BLOCK 4096u                    /* usage is charged in file-system blocks */
#define DISK_SUBDIRS 256u                   /* <drive>/<00..ff>/: the key's first byte */
#define DISK_OPEN_FILES 128                 /* idle objects whose files stay open (two fds each) */
#define DISK_SCAN_SYNC_MS 300u  /* start-up scan time before the rest goes to the background */
#define DISK_SCAN_STEP_MS 20u   /* background scan work per loop turn */
#define DISK_SCRUB_TICK_MS 250u /* the scrub wakes up this often, reading rate/4 bytes */
#define DISK_FULL_POLL_MS 1000u /* how often a full drive is checked for space again */
#define DISK_PROBE_NAME ".mcc-probe"

/* On-disk format (all integers little-endian), see format.c */
#define DISK_MAGIC "MCCOBJ1" /* 8 bytes with its NUL */
#define DISK_FORMAT_VERSION 1u
#define DISK_HEADER_LEN 88u
#define DISK_RECORD_LEN 16u

/* per-slice flags kept in memory */
#define DISK_SLICE_PRESENT 0x1u  /* committed: its record is on disk */
#define DISK_SLICE_VERIFIED 0x2u /* bytes known to match the checksum in this process */
#define DISK_SLICE_CHARGED 0x4u  /* its blocks are in the object's charge */

typedef struct disk_drive {
    char *path;    /* absolute directory */
    uint64_t size; /* configured capacity in bytes */
    uint64_t used; /* sum of the charges (blocks of both files) of indexed objects */
    uint64_t objects;
    uint64_t evictions; /* objects evicted to make room, since start (reports) */
    uint64_t seed;      /* rendezvous hash seed, from the path */
    mcc_evict_set *evict;

    /* health: a drive that fails is out of service (its objects count as missing) until a
     * probe finds it writable again, on the same file system as at start */
    int up;
    int full;     /* a write met ENOSPC; cleared when the file system has room again */
    uint64_t dev; /* st_dev and st_ino of the directory when it was first seen */
    uint64_t ino;
    uint64_t seen_ms; /* when the directory was last found in place (idle objects' reuse) */
    mcc_metric *m_up; /* mcc_storage_drive_up{drive} */
    mcc_metric *m_full;
    /* the write probe (a write and an fdatasync, which can wait for the file system's other
     * writes) runs on the reaper's thread; its outcome is taken at the next probe tick */
    int probing;           /* the loop's: a probe is out */
    atomic_int probe_done; /* the reaper's: probe_err holds the outcome */
    int probe_err;         /* 0, or the errno of the write probe */

    /* scan: subfolders below scan_next are indexed; the rest are read in the background,
     * and a key asked for meanwhile is looked up in its folder directly */
    unsigned scan_next;  /* 0..DISK_SUBDIRS */
    uint64_t scan_bytes; /* charges the scan found, to estimate what is still unscanned */
} disk_drive;

/* The decoded fixed header of a .meta file. */
typedef struct disk_header {
    uint8_t key[MCC_KEY_LEN];
    uint64_t length;
    uint64_t nslices;
    uint64_t meta_len;
    uint64_t meta_sum; /* XXH3-64 of the blob */
    uint32_t slice_size;
} disk_header;

/* A slice being written: its running checksum and the next offset expected. */
typedef struct disk_write {
    uint64_t idx;
    uint64_t next; /* absolute offset in the object */
    XXH3_state_t *xxh;
    UT_hash_handle hh;
} disk_write;

struct disk_state;

/* One stored object. Referenced by the index (while linked) and by each open handle; freed when
 * neither holds it. Files are opened while a handle exists. */
typedef struct disk_obj {
    uint8_t key[MCC_KEY_LEN];
    uint64_t id; /* the eviction policy's name for it */
    struct disk_state *st;
    disk_drive *drive;
    uint64_t length;
    uint64_t nslices;
    uint64_t charge; /* bytes reserved on the drive: both files in whole blocks */
    uint32_t slice_size;
    int64_t mtime; /* last write before start-up (or creation): orders the policy's recency */

    unsigned handles;
    uint8_t linked;       /* in the index; its file names belong to it */
    uint8_t loaded;       /* blob and slice table in memory (read from disk or created here) */
    uint8_t verified_all; /* every present slice was checked in this process (tables freed) */
    uint8_t pinned;       /* tables must stay: memory knows better than the records on disk */
    uint8_t tracked;      /* the eviction policy knows it */
    uint8_t idle;         /* no handle, files kept open: in the state's idle list */
    uint8_t removed;      /* its files were taken off the drive: the reaper closes data_fd */
    struct disk_obj *idle_prev, *idle_next;
    int data_fd;
    int meta_fd;
    uint64_t rec_base; /* offset of slice record 0 in the file meta_fd refers to */

    void *meta;
    size_t meta_len;
    uint64_t *sums; /* per slice checksum, valid when present */
    uint8_t *flags; /* DISK_SLICE_* per slice */
    uint64_t present;
    disk_write *writes;

    UT_hash_handle hh;    /* by key */
    UT_hash_handle hh_id; /* by id */
} disk_obj;

struct mcc_object {
    disk_obj *o;
};

typedef struct disk_state {
    const mcc_host *host;
    mcc_instance *self;
    char *eviction;
    char *admission; /* NULL: every object is admitted */
    int fsync;
    uint64_t max_object;
    uint64_t scrub_rate;     /* bytes per second, 0 off */
    uint64_t probe_interval; /* ms */
    uint64_t scan_sync_ms;   /* start-up scan time before the rest goes to the background */
    disk_drive drives[DISK_MAX_DRIVES];
    unsigned ndrives;

    const mcc_policy_ops *policy;
    void *policy_state;
    const mcc_policy_ops *admit;
    void *admit_state;
    int started;

    mcc_timer *probe_timer;
    mcc_timer *scan_timer;
    mcc_timer *scrub_timer;
    mcc_timer *scrub_poll; /* armed while a scrub job is out */
    int scan_armed;
    uint64_t last_probe_ms;
    uint8_t (*pending)[MCC_KEY_LEN]; /* keys the scan found, not yet told to the policy */
    size_t npending, pending_cap;
    struct disk_obj *scrub_obj; /* the next object the scrub reads (in by_key order) */
    uint64_t scrub_slice;
    uint64_t scrub_budget;
    struct disk_scrub_job *scrub_job; /* slices the reaper is reading for the scrub */

    disk_obj *by_key;
    disk_obj *by_id;
    /* objects nobody holds whose files stay open, most recently released first: the next
     * request for one skips opening and reading its files (at most open_files of them) */
    disk_obj *idle_head, *idle_tail;
    unsigned nidle;
    unsigned open_files;
    uint64_t next_id;
    mcc_metric *checksum_failures;
    uint8_t *scratch; /* DISK_SCRATCH_LEN bytes for checksumming slices */
    struct disk_reaper *reaper; /* frees removed objects' files off the loop (reaper.c) */
    uint64_t reap_seq;          /* numbers tombstone names */
} disk_state;

/* reaper.c: closing and unlinking removed objects' files off the loop */
typedef struct disk_reaper disk_reaper;
disk_reaper *disk_reaper_start(void);
/* Finishes what was handed over, then stops the thread. */
void disk_reaper_stop(disk_reaper *r);
/* Closes FD (unless -1) and unlinks PATH (unless NULL) on the reaper's thread; here and now
 * when R is NULL. */
void disk_reap(disk_reaper *r, int fd, const char *path);
/* Calls FN(ARG) on the reaper's thread, after what is queued before it. -1 when there is no
 * reaper or no memory: the caller does the work itself. */
int disk_reaper_run(disk_reaper *r, void (*fn)(void *arg), void *arg);
/* Renames the file PATH to a tombstone beside it ("<name>.<n>.reap") and hands that to the
 * reaper; unlinks PATH here when the rename fails. */
void disk_reap_file(disk_state *st, const char *path);

/* format.c: file names and the .meta layout */
void disk_key_hex(const uint8_t key[MCC_KEY_LEN], char hex[DISK_HEX_LEN + 1]);
int disk_hex_key(const char *hex, uint8_t key[MCC_KEY_LEN]);
int disk_path(char *buf, size_t size, const disk_drive *d, const uint8_t key[MCC_KEY_LEN],
              const char *suffix);
void disk_record_encode(uint8_t rec[DISK_RECORD_LEN], uint64_t idx, uint64_t sum);
int disk_record_decode(const uint8_t rec[DISK_RECORD_LEN], uint64_t idx, uint64_t *sum);
int disk_header_decode(const uint8_t buf[DISK_HEADER_LEN], disk_header *h);
int disk_meta_write(disk_obj *o, mcc_err *err);
int disk_meta_load(disk_obj *o, mcc_err *err);
int disk_sync_dir(const char *file_path);
int disk_pread_full(int fd, void *buf, size_t len, uint64_t off);
int disk_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
int disk_mkdirs(const char *path, mcc_err *err);

/* index.c: the scan of the drives (at start and when a drive comes back) */
int disk_scan_begin(disk_state *st, disk_drive *d, mcc_err *err);
int disk_scan_step(disk_state *st, disk_drive *d, uint64_t budget_ms);
disk_obj *disk_scan_lookup(disk_state *st, const uint8_t key[MCC_KEY_LEN]);
uint64_t disk_now_ms(void);

/* object.c: one object's slices, through its handles */
disk_obj *disk_obj_new(disk_state *st, const uint8_t key[MCC_KEY_LEN], disk_drive *d);
int disk_obj_alloc_slices(disk_obj *o);
void disk_obj_unload(disk_obj *o);
void disk_obj_free(disk_obj *o);
int disk_obj_info(mcc_object *h, mcc_object_info *info);
int disk_obj_set_meta(mcc_object *h, const void *meta, size_t meta_len);
int disk_obj_has_slice(mcc_object *h, uint64_t idx);
int disk_obj_write(mcc_object *h, uint64_t off, const void *buf, size_t len);
int disk_obj_commit(mcc_object *h, uint64_t idx);
int disk_obj_read(mcc_object *h, uint64_t off, void *buf, size_t len);
int disk_obj_read_fd(mcc_object *h, uint64_t off, int *fd, uint64_t *fd_off);
int disk_obj_verify(mcc_object *h, uint64_t idx);
int disk_obj_acquire(disk_obj *o, mcc_err *err);
void disk_obj_release(disk_obj *o);
/* The same, but the files close now when this was the last handle (a scrub's passing read). */
void disk_obj_release_closing(disk_obj *o);
/* What a complete object is charged on its drive (both files in whole blocks), and what its
 * .meta alone is: an object is charged its .meta and the slices it holds. */
uint64_t disk_obj_charge(uint64_t length, uint64_t nslices, uint64_t meta_len);
uint64_t disk_obj_meta_charge(uint64_t nslices, uint64_t meta_len);
uint64_t disk_obj_scrub(disk_obj *o, uint64_t idx);
/* The scrub off the loop: the span and recorded sum of present slice IDX (0 when absent), and
 * the outcome of reading it, taken back on the loop (ignored when the slice changed meanwhile). */
int disk_obj_scrub_span(disk_obj *o, uint64_t idx, uint64_t *off, uint64_t *end, uint64_t *sum);
void disk_obj_scrub_take(disk_obj *o, uint64_t idx, uint64_t want, int ok, uint64_t sum);
/* XXH3-64 of [OFF, END) of FD, read through BUF (DISK_SCRATCH_LEN bytes): 1, 0 when it could
 * not be read, -1 without memory. Uses nothing else, so any thread may call it. */
int disk_sum_read(int fd, uint64_t off, uint64_t end, void *buf, uint64_t *sum);
void disk_policy_fill(disk_state *st);

/* disk.c: the index, placement and eviction; drive health (errno says whether an error was
 * the drive's fault: then it is taken out of service and 1 is returned) */
int disk_drive_error(disk_state *st, disk_drive *d, int err, const char *what);
void disk_drive_nospace(disk_state *st, disk_drive *d);
int disk_drive_reserve(disk_state *st, disk_drive *d, uint64_t extra);
/* Whether D's directory is still the one seen at start (checked at most every 100 ms). */
int disk_drive_present(disk_drive *d);
uint64_t disk_obj_id(disk_state *st, const uint8_t key[MCC_KEY_LEN]);
void disk_index_add(disk_state *st, disk_obj *o);
void disk_index_unlink(disk_state *st, disk_obj *o, int remove_files);
int disk_open(void *state, const uint8_t key[MCC_KEY_LEN], mcc_object **obj);
int disk_create(void *state, const uint8_t key[MCC_KEY_LEN], uint64_t length, uint32_t slice_size,
                const void *meta, size_t meta_len, mcc_object **obj);
int disk_remove(void *state, const uint8_t key[MCC_KEY_LEN]);
void disk_usage(void *state, uint64_t *used, uint64_t *capacity, uint64_t *objects);
int disk_drives(void *state, unsigned i, mcc_drive_info *out);
void disk_handle_close(mcc_object *h);

#endif
