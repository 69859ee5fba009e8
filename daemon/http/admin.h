/* The admin listener: health routes, routes plugins register through the host table, and the
 * access control (loopback only, API key, unrestricted) applied before any of them. */
#ifndef MCC_ADMIN_H
#define MCC_ADMIN_H

#include "core/core.h"

typedef struct mcc_admin mcc_admin;

/* The route table, without a listener: plugins may register routes from create/start on.
 * NULL on out-of-memory. */
mcc_admin *mcc_admin_new(mcc_core *core);
/* Binds ADDR ("host:port", "[v6]:port"; port 0 picks one) on core->base. "" disables the
 * listener (MCC_OK). MCC_ERROR + err when it cannot be bound. */
int mcc_admin_listen(mcc_admin *a, const char *addr, mcc_err *err);
/* The bound address as "host:port" (the real port after port 0), or "off". */
const char *mcc_admin_address(const mcc_admin *a);
/* Closes the listener and drops every route. */
void mcc_admin_free(mcc_admin *a);

/* Registers PATH (exact match) for OWNER. MCC_ERROR when PATH is taken or not absolute. */
int mcc_admin_route_add(mcc_admin *a, mcc_instance *owner, const char *path, mcc_route_fn fn,
                        void *arg);
/* Drops every route of OWNER (its state is going away). */
void mcc_admin_routes_drop(mcc_admin *a, mcc_instance *owner);

/* A reply being built; what the listener sends, and what tests inspect. */
mcc_reply *mcc_reply_new(void);
void mcc_reply_free(mcc_reply *r);
int mcc_reply_code(const mcc_reply *r);                 /* 0 until a status is set */
const char *mcc_reply_content_type(const mcc_reply *r); /* NULL when none was set */
const char *mcc_reply_header_get(const mcc_reply *r, const char *name); /* NULL when absent */
/* The body so far, NUL-terminated (the NUL is not counted in *len). */
const char *mcc_reply_body(mcc_reply *r, size_t *len);

/* The reply_* functions of the host table. */
void mcc_reply_status(mcc_reply *r, int status, const char *content_type);
void mcc_reply_header(mcc_reply *r, const char *name, const char *value);
void mcc_reply_append(mcc_reply *r, const void *data, size_t len);
void mcc_reply_printf(mcc_reply *r, const char *fmt, ...) MCC_PRINTF(2, 3);

/* Answers REQ as the listener does (access control, built-in and plugin routes, 404) into
 * REPLY. AUTHORIZATION is the request's Authorization header or NULL. Tests call it directly. */
void mcc_admin_handle(mcc_admin *a, const mcc_admin_request *req, const char *authorization,
                      mcc_reply *reply);

/* 1 when the textual address PEER is 127.0.0.0/8, ::1 or ::ffff:127.x.y.z. */
int mcc_admin_peer_is_loopback(const char *peer);

#endif
