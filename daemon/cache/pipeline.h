/* Internal structures of the request pipeline, shared by index.c, transfer.c and serve.c. */
#ifndef MCC_CACHE_PIPELINE_H
#define MCC_CACHE_PIPELINE_H

#include <event2/event.h>
#include <event2/http.h>
#include <uthash.h>

#include "cache/cache.h"
#include "cache/fresh.h"
#include "cache/meta.h"
#include "cache/sender.h"
#include "fetch/fetch.h"

#define MCC_NEG_MAX 6

typedef struct mcc_entry mcc_entry;
typedef struct mcc_transfer mcc_transfer;
typedef struct mcc_serve mcc_serve;

struct mcc_cache {
    mcc_core *core;
    const mcc_storage_ops *st; /* the storage backend's ops and state */
    void *st_state;
    uint32_t slice_size; /* for objects created from now on */
    mcc_entry *index;    /* objects in use, by key (uthash) */
    mcc_cache_counts counts;
    mcc_metric *m_coalesced, *m_transfers, *m_upstream_bytes, *m_upstream_errors;
    mcc_metric *m_sender_bytes;
    mcc_metric *m_sender_cpu;
    const mcc_policy_ops *freshness_ops; /* the freshness policy, if one is configured */
    struct mcc_nostore *nostore;         /* keys whose responses may not be stored, for a while */
    struct mcc_meta_memo *memo;          /* decoded metadata of objects opened lately (index.c) */
    uint64_t memo_clock;
    mcc_entry *spare;                    /* freed entries kept for reuse, linked by hh.next */
    unsigned nspare;
    struct mcc_senders *senders; /* threads for large stored bodies, or NULL (sender.h) */
    void *freshness_state;
};

enum mcc_entry_state {
    MCC_ENTRY_NEW,     /* nothing known: the first serve starts a probe transfer */
    MCC_ENTRY_PROBING, /* a transfer is waiting for the headers that give length and validators */
    MCC_ENTRY_READY,   /* length and validators known; stored in obj */
    MCC_ENTRY_FAILED,  /* the probe failed: fail_status is the answer (entry left the index) */
    MCC_ENTRY_DOOMED   /* the origin's object changed: this version is dropped, never mixed */
};

/* One object in use: shared by every serve and transfer of its key, reference-counted. */
struct mcc_entry {
    uint8_t key[MCC_KEY_LEN];
    UT_hash_handle hh;
    int in_index;
    unsigned refs;
    struct mcc_cache *cache;
    int state;
    int fail_status; /* MCC_ENTRY_FAILED: status for the serves that waited */
    char retry_after[32]; /* the origin's Retry-After with that failure, passed on */

    /* how to reach the origin, from the request that made the entry */
    char *origin_host;
    unsigned origin_port;
    char *path;
    char *via;
    mcc_host_rule rule;

    /* MCC_ENTRY_READY */
    mcc_object *obj;
    uint64_t length;
    uint32_t slice;
    uint64_t nslices;
    mcc_meta meta;

    char up_status[256]; /* Cache-Status of the last upstream response: caches above us */
    int nostore;               /* responses for this key are relayed, not stored */
    /* the content-negotiation headers of the request that made the entry, sent upstream with
     * its transfers: what a Vary response was chosen by (RFC 9111 4.1) */
    char *neg_names[MCC_NEG_MAX], *neg_values[MCC_NEG_MAX];
    unsigned nneg;
    mcc_transfer *validating;  /* the revalidation in flight, joined by every stale request */

    mcc_transfer *transfers; /* in flight for this object, unordered */
    mcc_serve *serves;       /* every serve of this object */
};

enum mcc_transfer_state { MCC_XFER_HEADERS, MCC_XFER_BODY, MCC_XFER_ENDED };

enum mcc_validate_mode {
    MCC_VALIDATE_NONE = 0,
    MCC_VALIDATE_COND = 1,   /* conditional GET with the stored validators */
    MCC_VALIDATE_RELOAD = 2  /* unconditional GET: whatever comes replaces the stored object */
};

/* One upstream transfer filling [start, end) of an entry, slice-aligned. */
struct mcc_transfer {
    mcc_transfer *next; /* in entry->transfers */
    mcc_entry *entry;   /* holds a reference */
    mcc_fetch *fetch;
    mcc_fetch_plan plan;
    mcc_plugin_ref up; /* a copy: a reload may replace the configured upstreams meanwhile */
    unsigned attempt;
    uint64_t start, end; /* end is UINT64_MAX until a probe learns the length */
    uint64_t pos;        /* next byte to write: [start, pos) has landed in storage */
    uint64_t skip;       /* body bytes to drop first (an origin that answered a range with 200) */
    int ranged;          /* a Range header was sent */
    int relay;           /* storage refused a write: bytes go straight to the serves that had
                          * caught up (serve->relay), nothing more is stored */
    int paused;          /* relaying: the fetch waits for a client to drain */
    int yielded;         /* the fetch waited a turn of the loop after its first bytes */
    struct event *yield; /* ... on this zero timer (transfer_yield) */
    mcc_metric *m_bytes; /* body bytes received, by upstream */
    int probe;           /* establishes the entry's length and validators */
    int validate;        /* MCC_VALIDATE_*: a revalidation of the stored object */
    int state;
    int64_t request_time; /* unix seconds the request was sent (RFC 9111 age) */
    uint64_t started_us;
};

/* One client response in progress. */
struct mcc_serve {
    mcc_serve *next; /* in entry->serves */
    struct mcc_cache *cache;
    mcc_entry *entry; /* holds a reference */
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    struct event *kick; /* deferred work: aborting a started reply */
    mcc_target target;  /* copy; strings below are owned copies */
    char *path, *log_path, *origin_host, *via;
    char *range; /* the client's (last) Range header, or NULL */
    char client[64];
    int head;
    int started;  /* status line and headers are out */
    int sending;  /* a chunk is being written */
    struct mcc_sendjob *job; /* ... by a sender thread: the serve is freed only after it */
    int release_due;         /* released while the job was out: freed when it comes back */
    int now;      /* a small stored body: written straight to the socket (serve_write_now) */
    int own_head; /* ... with a header block mccd wrote (serve_head), head_len bytes */
    size_t head_len;
    int aborting; /* the connection is to be closed */
    int coalesced; /* 0 undecided, 1 joined a transfer others started (counted), 2 led */
    unsigned failures;  /* transfers that failed under this serve */
    mcc_transfer *waiting_on;
    mcc_transfer *relay; /* bytes of this transfer are pushed to the client, not read back */
    int status;
    uint64_t first, last; /* the byte range promised, inclusive */
    uint64_t cursor;      /* next byte to send */
    uint64_t pending, pending_hit; /* bytes in the chunk being written, of them from storage */
    uint8_t *stored; /* bit per slice of [first, last]: stored before this response began */
    uint64_t hit, miss;   /* bytes written out, from storage and from a transfer */
    char cache_status[16];
    uint64_t t0_us, upstream_ms;

    /* what the request says about caching (RFC 9111 5.2.1) and its validators */
    mcc_cc req_cc;
    char *if_none_match, *if_modified_since, *if_range;
    int probed;       /* the object was fetched for this request (an empty body counts a miss) */
    int validated;    /* the stored object may be used for this request without more checks */
    int revalidated;  /* ... because the origin just confirmed it (304) */
    int stale_status; /* ... because the origin failed with this status: served stale */
    int freshness;    /* mcc_freshness of the target */

    /* relaying without storing (pass.c) */
    struct mcc_pass *pass;
    int method;       /* evhttp_cmd_type */
};


/* index.c */
/* Frees what the index keeps for reuse: decoded metadata and spare entries. */
void mcc_index_free(struct mcc_cache *c);
mcc_entry *mcc_entry_get(struct mcc_cache *c, const mcc_target *t);
void mcc_entry_ref(mcc_entry *e);
void mcc_entry_unref(mcc_entry *e);
/* Drops the object from storage and the index; serves are told through mcc_serve_entry_gone. */
void mcc_entry_doom(mcc_entry *e);
/* Becomes READY with a new stored object of LENGTH bytes; MCC_OK or MCC_ERROR. */
int mcc_entry_ready(mcc_entry *e, uint64_t length, const mcc_meta *meta);
/* The transfer covering byte OFF, or NULL. */
mcc_transfer *mcc_entry_transfer_at(mcc_entry *e, uint64_t off);
int mcc_entry_has_slice(mcc_entry *e, uint64_t idx);

/* Replaces E in the index by a new entry for the next version of its object, PROBING with T
 * (a transfer of E) as its probe; serves of E that sent nothing yet move along. E is doomed:
 * its started serves finish from what E has stored. Returns the new entry. */
mcc_entry *mcc_entry_supersede(mcc_entry *e, mcc_transfer *t);
/* Writes the entry's metadata to storage (after a 304 refreshed it). */
void mcc_entry_save_meta(mcc_entry *e);

/* transfer.c: starts a transfer of [start, end) (end UINT64_MAX: to the object's end; probe:
 * establish the entry; validate: a mcc_validate_mode). NULL when no upstream would plan it. */
mcc_transfer *mcc_transfer_start(mcc_entry *e, uint64_t start, uint64_t end, int probe,
                                 int validate, int *fail_status);
void mcc_transfer_cancel(mcc_transfer *t);
/* Asks the configured upstreams in order for a plan of RQ (ATTEMPT counts failures; AVOID is a
 * plan label not to use again). The daemon's timeouts and proxy fill what the plan leaves. */
const mcc_plugin_ref *mcc_upstream_plan(struct mcc_cache *c, const mcc_fetch_request *rq,
                                        unsigned attempt, const char *avoid,
                                        mcc_fetch_plan *plan);
/* Fills META's HTTP caching fields from the response headers of F. */
void mcc_transfer_read_meta(mcc_fetch *f, mcc_meta *meta, int64_t request_time);

/* serve.c */
void mcc_serve_pump(mcc_serve *s);
/* A transfer ended or failed: every serve waiting on it re-plans. FAILED counts a failure. */
void mcc_serve_wake(mcc_entry *e, mcc_transfer *t, int failed);
/* Starts S's response from T's headers and has T push the body (a probe whose response is not
 * stored). 0 when S does not want what T brings (a range, HEAD); 1 when adopted. */
int mcc_serve_adopt_relay(mcc_serve *s, mcc_transfer *t);
/* Remembers for a while that KEY's responses are relayed, not stored; asks whether it is so. */
void mcc_nostore_add(struct mcc_cache *c, const uint8_t *key);
int mcc_nostore_has(struct mcc_cache *c, const uint8_t *key);
void mcc_nostore_free(struct mcc_cache *c);
/* A relaying transfer ended: its serves finish, or close when bytes are missing. */
void mcc_serve_relay_done(mcc_entry *e, mcc_transfer *t);
/* The entry changed state (probe answered, failed, or doomed): every serve re-plans. */
void mcc_serve_entry_changed(mcc_entry *e);
/* The revalidation T ended: OK (the stored object is current again), or failed with STATUS
 * (serves that may use a stale object do, the others fail). */
void mcc_serve_validation_done(mcc_entry *e, mcc_transfer *t, int ok, int status);
/* Helpers pass.c shares with serve.c. */
void mcc_serve_fail(mcc_serve *s, int status);
void mcc_serve_abort(mcc_serve *s);
void mcc_serve_finish(mcc_serve *s);
/* The values of the request headers VARY names, as "name: value\n" lines, into OUT: of the
 * serve's request, or of the negotiation headers an entry's transfers send. */
void mcc_serve_vary_values(mcc_serve *s, const char *vary, char *out, size_t cap);
void mcc_entry_vary_values(const mcc_entry *e, const char *vary, char *out, size_t cap);
/* The common form of both: LOOKUP gives the value of one request header name (or NULL). */
typedef const char *(*mcc_vary_lookup_fn)(void *arg, const char *name);
void mcc_vary_values(const char *vary, mcc_vary_lookup_fn lookup, void *arg, char *out,
                     size_t cap);
/* Takes the negotiation headers of REQ into E (once, from the request that made it). */
void mcc_entry_take_negotiation(mcc_entry *e, struct evhttp_request *req);
/* The connection drained what S wrote: account it and go on (evhttp's write callback). */
void mcc_serve_written_cb(struct evhttp_connection *evcon, void *arg);
/* A sender thread is done with a serve's job (mcc_send_done_fn). */
void mcc_serve_sent(mcc_sendjob *job, void *arg);
/* Detaches S from its entry (pass mode needs none). */
void mcc_serve_detach(mcc_serve *s);

/* pass.c: relays the request of S upstream and the answer back, storing nothing. */
void mcc_pass_start(mcc_serve *s, const char *why);
/* The client drained what was written: account it and go on reading upstream. */
void mcc_pass_written(mcc_serve *s);
void mcc_pass_free(struct mcc_pass *p);

#endif
