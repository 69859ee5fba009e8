/* Storage backends: objects by key, stored as fixed-size slices with a checksum each. */
#ifndef MCC_STORAGE_H
#define MCC_STORAGE_H

#include <mcc/host.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MCC_KEY_LEN 32 /* cache keys are SHA-256 digests */

typedef struct mcc_object mcc_object; /* a backend's open handle of one stored object */

typedef struct mcc_object_info {
    uint64_t length;     /* total length in bytes */
    uint32_t slice_size; /* bytes per slice (the last slice may be shorter) */
    uint64_t nslices;    /* ceil(length / slice_size) */
    uint64_t present;    /* slices committed */
    const void *meta;    /* the daemon's metadata blob, valid until set_meta or close */
    size_t meta_len;
} mcc_object_info;

/* One drive (a directory, a device, a memory arena) of a backend, for reports. */
typedef struct mcc_drive_info {
    char name[256];     /* how operators know it: the directory of a disk drive */
    uint64_t used;      /* bytes objects take as charged (disk: 4 KiB blocks of both files) */
    uint64_t capacity;  /* bytes it may hold */
    uint64_t objects;   /* objects stored on it */
    uint64_t evictions; /* since start: objects evicted from it to make room */
    int writable;       /* 1 when new objects can be written to it now */
} mcc_drive_info;

/* Ops run on an event loop's thread, one call at a time (sdk/README.md, "Threading and
 * blocking"). They may do local file I/O (as nginx does) but never wait on the network. A handle
 * keeps its object from being evicted until it is closed; a handle of an object that was replaced
 * or removed keeps reading the old bytes until closed. */
typedef struct mcc_storage_ops {
    size_t size; /* sizeof(mcc_storage_ops) */

    /* Opens the stored object of KEY. MCC_OK with *obj, MCC_NOTFOUND, or MCC_ERROR (an unreadable
     * object is dropped by the backend and reported as MCC_NOTFOUND, never served). */
    int (*open)(void *state, const uint8_t key[MCC_KEY_LEN], mcc_object **obj);
    /* Creates an empty object of LENGTH bytes (no slice present), replacing any stored one of
     * KEY. Space for LENGTH is reserved first, evicting others as the policy says.
     * META (META_LEN bytes, opaque to the backend) is stored with it. MCC_OK, MCC_NOSPACE when
     * no room can be made (the daemon then serves without storing), MCC_DECLINED when the
     * admission policy declines: the daemon serves without storing, MCC_ERROR. */
    int (*create)(void *state, const uint8_t key[MCC_KEY_LEN], uint64_t length, uint32_t slice_size,
                  const void *meta, size_t meta_len, mcc_object **obj);
    void (*close)(mcc_object *obj);
    int (*info)(mcc_object *obj, mcc_object_info *info);
    /* Replaces the metadata blob durably (a 304 refreshed the headers). */
    int (*set_meta)(mcc_object *obj, const void *meta, size_t meta_len);
    /* 1 when slice IDX is committed, 0 when not. */
    int (*has_slice)(mcc_object *obj, uint64_t idx);
    /* Writes LEN bytes at OFF. Writes inside one slice arrive in order from the slice's start,
     * and never cross into a committed slice. MCC_OK, MCC_NOSPACE, MCC_ERROR. */
    int (*write)(mcc_object *obj, uint64_t off, const void *buf, size_t len);
    /* Slice IDX was written completely: record its checksum, then mark it present, in that
     * order, so that a crash never leaves a slice marked present whose bytes are not. */
    int (*commit)(mcc_object *obj, uint64_t idx);
    /* Reads bytes that are committed or were written through this handle. MCC_OK or MCC_ERROR. */
    int (*read)(mcc_object *obj, uint64_t off, void *buf, size_t len);
    /* Optional: where the bytes at OFF live, for sendfile: an fd owned by the handle (valid until
     * close) and the offset in it. MCC_DECLINED when the backend has no file. */
    int (*read_fd)(mcc_object *obj, uint64_t off, int *fd, uint64_t *fd_off);
    /* Optional: checks slice IDX against its checksum. MCC_OK, or MCC_ERROR after the backend
     * dropped the slice (it then counts as missing and is fetched again). */
    int (*verify)(mcc_object *obj, uint64_t idx);
    /* Removes KEY's object (open handles keep their bytes). MCC_OK or MCC_NOTFOUND. */
    int (*remove)(void *state, const uint8_t key[MCC_KEY_LEN]);
    /* Bytes in use, capacity, and objects stored. */
    void (*usage)(void *state, uint64_t *used, uint64_t *capacity, uint64_t *objects);
    /* Optional: fills OUT for drive I (0, 1, ...): MCC_OK, or MCC_NOTFOUND past the last one.
     * Cheap enough to call at every scrape; may stat its directory, never waits on a device. */
    int (*drives)(void *state, unsigned i, mcc_drive_info *out);
} mcc_storage_ops;

#ifdef __cplusplus
}
#endif
#endif
