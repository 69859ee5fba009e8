/* Metadata blob of a stored object: a small JSON object, so fields can be added without a
 * format version bump. */
#include "cache/meta.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <mcc/plugin.h>

static void meta_copy(char *dst, size_t cap, const cJSON *item)
{
    if (cJSON_IsString(item) && item->valuestring != NULL) {
        size_t n = strlen(item->valuestring);
        if (n >= cap)
            n = cap - 1;
        memcpy(dst, item->valuestring, n);
        dst[n] = '\0';
    }
}

/* A number of the blob as int64. cJSON holds numbers as doubles and prints them with 15
 * significant digits when that reads back within a rounding error, so only integers of up to 15
 * digits survive a write and a read exactly: anything beyond (or not a number) reads as 0. */
#define META_INT_MAX 999999999999999.0 /* 1e15 - 1 */

static int64_t meta_int(const cJSON *o, const char *name)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsNumber(it) ||
        !(it->valuedouble >= -META_INT_MAX && it->valuedouble <= META_INT_MAX))
        return 0;
    return (int64_t)it->valuedouble;
}

int mcc_meta_encode(const mcc_meta *meta, char **out, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return MCC_ERROR;
    int ok = cJSON_AddNumberToObject(o, "v", 1) &&
             cJSON_AddNumberToObject(o, "status", meta->status) &&
             cJSON_AddStringToObject(o, "etag", meta->etag) &&
             cJSON_AddStringToObject(o, "last_modified", meta->last_modified) &&
             cJSON_AddStringToObject(o, "content_type", meta->content_type) &&
             cJSON_AddNumberToObject(o, "stored_at", (double)meta->stored_at) &&
             cJSON_AddStringToObject(o, "url", meta->url) &&
             cJSON_AddStringToObject(o, "cache_control", meta->cache_control) &&
             cJSON_AddStringToObject(o, "expires", meta->expires) &&
             cJSON_AddStringToObject(o, "content_encoding", meta->content_encoding) &&
             cJSON_AddStringToObject(o, "vary", meta->vary) &&
             cJSON_AddStringToObject(o, "vary_values", meta->vary_values) &&
             cJSON_AddNumberToObject(o, "date", (double)meta->date) &&
             cJSON_AddNumberToObject(o, "age_value", (double)meta->age_value) &&
             cJSON_AddNumberToObject(o, "request_time", (double)meta->request_time) &&
             cJSON_AddNumberToObject(o, "response_time", (double)meta->response_time);
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (text == NULL)
        return MCC_ERROR;
    *out = text;
    *len = strlen(text);
    return MCC_OK;
}

int mcc_meta_decode(const void *blob, size_t len, mcc_meta *meta)
{
    memset(meta, 0, sizeof(*meta));
    if (blob == NULL || len == 0)
        return MCC_ERROR;
    cJSON *o = cJSON_ParseWithLength(blob, len);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return MCC_ERROR;
    }
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, "status");
    meta->status = cJSON_IsNumber(it) ? (int)meta_int(o, "status") : 200;
    meta_copy(meta->etag, sizeof(meta->etag), cJSON_GetObjectItemCaseSensitive(o, "etag"));
    meta_copy(meta->last_modified, sizeof(meta->last_modified),
              cJSON_GetObjectItemCaseSensitive(o, "last_modified"));
    meta_copy(meta->content_type, sizeof(meta->content_type),
              cJSON_GetObjectItemCaseSensitive(o, "content_type"));
    meta->stored_at = meta_int(o, "stored_at");
    meta_copy(meta->url, sizeof(meta->url), cJSON_GetObjectItemCaseSensitive(o, "url"));
    meta_copy(meta->cache_control, sizeof(meta->cache_control),
              cJSON_GetObjectItemCaseSensitive(o, "cache_control"));
    meta_copy(meta->expires, sizeof(meta->expires), cJSON_GetObjectItemCaseSensitive(o, "expires"));
    meta_copy(meta->content_encoding, sizeof(meta->content_encoding),
              cJSON_GetObjectItemCaseSensitive(o, "content_encoding"));
    meta_copy(meta->vary, sizeof(meta->vary), cJSON_GetObjectItemCaseSensitive(o, "vary"));
    meta_copy(meta->vary_values, sizeof(meta->vary_values),
              cJSON_GetObjectItemCaseSensitive(o, "vary_values"));
    meta->date = meta_int(o, "date");
    meta->age_value = meta_int(o, "age_value");
    meta->request_time = meta_int(o, "request_time");
    meta->response_time = meta_int(o, "response_time");
    if (meta->response_time == 0)
        meta->response_time = meta->request_time = meta->stored_at;
    cJSON_Delete(o);
    return MCC_OK;
}
