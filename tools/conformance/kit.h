/* mcc-plugin-conformance: the contract tests of each plugin kind, run against a plugin's shared
 * object through the daemon's real loader and host API. Shared by the kit's files. */
#ifndef MCC_KIT_H
#define MCC_KIT_H

#include <stdint.h>

#include "core/core.h"

#define KIT_MAX_ROUTES 32
#define KIT_MAX_HOSTS 32
#define KIT_MAX_WITH 8

/* A companion instance (--with NAME=PLUGIN[=JSON]), loaded before the plugin under test. */
typedef struct kit_with {
    char name[64];
    char plugin[1024];
    const char *json; /* NULL: no config */
} kit_with;

typedef struct kit {
    mcc_core core; /* first: the host shim finds the kit from an instance's core */
    mcc_host shim; /* the real host table, route_add recording the paths the plugin takes */
    const mcc_host *real;

    /* options */
    const char *plugin; /* path or name in the plugin dir */
    char name[64];      /* instance name under test */
    cJSON *config;      /* the "config" object, or NULL */
    char config_src[1100];
    int persistent;
    int verbose;
    int keep;
    kit_with with[KIT_MAX_WITH];
    unsigned nwith;
    const char *accept_hosts[KIT_MAX_HOSTS];
    unsigned naccept;
    const char *decline_hosts[KIT_MAX_HOSTS];
    unsigned ndecline;

    char root[1024]; /* the cache root handed to plugins: a fresh temp dir unless given */
    int own_root;

    /* the instance under test (not in the core's list: the kit destroys and recreates it) */
    mcc_instance *inst;
    const mcc_plugin *desc;
    const void *ops;
    void *state;

    char routes[KIT_MAX_ROUTES][256]; /* admin paths the instance under test registered */
    unsigned nroutes;

    uint64_t key_seq; /* keys are made from this and run_seed, unique within a run */
    uint64_t run_seed;
    unsigned passed, failed, skipped;
} kit;

/* One contract being run: the first failure ends it, with its reason. */
typedef struct kit_case {
    kit *k;
    const char *name;
    int failed;
    int skipped;
    char why[512];
    char note[256]; /* said after PASS in parentheses, e.g. what was not applicable */
} kit_case;

/* Records the failure of C (only the first counts). Returns 0 for use in conditions. */
int kit_fail(kit_case *c, const char *fmt, ...) MCC_PRINTF(2, 3);
/* Marks C skipped, with the reason. */
void kit_skip(kit_case *c, const char *fmt, ...) MCC_PRINTF(2, 3);
void kit_note(kit_case *c, const char *fmt, ...) MCC_PRINTF(2, 3);

/* Fails C and jumps to the contract's cleanup label `done` when COND is false. */
#define KIT_CHECK(c, cond, ...)                                                                    \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            kit_fail((c), __VA_ARGS__);                                                            \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

typedef void (*kit_case_fn)(kit_case *c);

/* Runs FN as contract NAME and prints its PASS/FAIL/SKIP line. */
void kit_run_case(kit *k, const char *name, kit_case_fn fn);

/* (Re)creates and starts the instance under test from the kit's config. MCC_OK, or MCC_ERROR
 * with err saying why (the loader's or the plugin's message). */
int kit_instance_up(kit *k, mcc_err *err);
/* Stops and destroys the instance under test (its routes and timers go with it). */
void kit_instance_down(kit *k);
/* Runs the event loop for MS milliseconds (the plugin's timers fire). */
void kit_loop(kit *k, unsigned ms);

/* A fresh cache key, never used before in this run. */
void kit_key(kit *k, uint8_t key[MCC_KEY_LEN]);
/* The test content of stream SEED at object offset OFF, LEN bytes of it, into BUF. */
void kit_fill(uint64_t seed, uint64_t off, uint8_t *buf, size_t len);

/* The contracts of each kind (storage.c, upstream.c, hosts.c, exporter.c, policy.c). */
void kit_storage_run(kit *k);
void kit_upstream_run(kit *k);
void kit_hosts_run(kit *k);
void kit_exporter_run(kit *k);
void kit_policy_run(kit *k);

#endif
