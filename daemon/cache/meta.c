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

int mcc_meta_encode(const mcc_meta *meta, char **out, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return MCC_ERROR;
    int ok = cJSON_AddNumberToObject(o, "v", 1) && cJSON_AddNumberToObject(o, "status", meta->status) &&
             cJSON_AddStringToObject(o, "etag", meta->etag) &&
             cJSON_AddStringToObject(o, "last_modified", meta->last_modified) &&
             cJSON_AddStringToObject(o, "content_type", meta->content_type) &&
             cJSON_AddNumberToObject(o, "stored_at", (double)meta->stored_at) &&
             cJSON_AddStringToObject(o, "url", meta->url);
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
    meta->status = cJSON_IsNumber(it) ? it->valueint : 200;
    meta_copy(meta->etag, sizeof(meta->etag), cJSON_GetObjectItemCaseSensitive(o, "etag"));
    meta_copy(meta->last_modified, sizeof(meta->last_modified),
              cJSON_GetObjectItemCaseSensitive(o, "last_modified"));
    meta_copy(meta->content_type, sizeof(meta->content_type),
              cJSON_GetObjectItemCaseSensitive(o, "content_type"));
    it = cJSON_GetObjectItemCaseSensitive(o, "stored_at");
    meta->stored_at = cJSON_IsNumber(it) ? (int64_t)it->valuedouble : 0;
    meta_copy(meta->url, sizeof(meta->url), cJSON_GetObjectItemCaseSensitive(o, "url"));
    cJSON_Delete(o);
    return MCC_OK;
}
