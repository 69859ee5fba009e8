/* The summary's top hosts: bytes sent per origin host since start, in a table bounded by
 * max_hosts (later hosts are added up as one "(other hosts)" row). */
#include <stdlib.h>
#include <string.h>

#include "summary.h"

void summary_hosts_add(summary *s, const char *host, uint64_t hit, uint64_t miss)
{
    summary_host *h = NULL;
    size_t len = strlen(host);
    if (len < SUMMARY_HOST_MAX)
        HASH_FIND(hh, s->hosts, host, len, h);
    if (h == NULL && len < SUMMARY_HOST_MAX && s->nhosts < s->max_hosts) {
        h = calloc(1, sizeof(*h));
        if (h != NULL) {
            memcpy(h->name, host, len + 1);
            HASH_ADD(hh, s->hosts, name[0], len, h);
            s->nhosts++;
        }
    }
    if (h == NULL)
        h = &s->other;
    h->hit += hit;
    h->miss += miss;
    h->requests++;
}

static int summary_hosts_more(const summary_host *a, const summary_host *b)
{
    uint64_t ea = a->hit + a->miss, eb = b->hit + b->miss;
    if (ea != eb)
        return ea > eb;
    return strcmp(a->name, b->name) < 0; /* a stable order for equal bytes */
}

void summary_hosts_top(const summary *s, cJSON *arr, unsigned n)
{
    const summary_host *top[32];
    unsigned k = 0;
    if (n > sizeof(top) / sizeof(top[0]))
        n = sizeof(top) / sizeof(top[0]);
    /* insertion into a short sorted list: n is small, the table is walked once */
    for (const summary_host *h = s->hosts; h != NULL; h = h->hh.next) {
        unsigned at = k;
        while (at > 0 && summary_hosts_more(h, top[at - 1]))
            at--;
        if (at >= n)
            continue;
        if (k < n)
            k++;
        memmove(&top[at + 1], &top[at], (k - 1 - at) * sizeof(top[0]));
        top[at] = h;
    }
    if (s->other.requests > 0 && k < n)
        top[k++] = &s->other;
    for (unsigned i = 0; i < k; i++) {
        cJSON *o = cJSON_CreateObject();
        if (o == NULL)
            return;
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "host", top[i]->name);
        cJSON_AddNumberToObject(o, "hitBytes", (double)top[i]->hit);
        cJSON_AddNumberToObject(o, "missBytes", (double)top[i]->miss);
        cJSON_AddNumberToObject(o, "egressBytes", (double)(top[i]->hit + top[i]->miss));
        cJSON_AddNumberToObject(o, "requests", (double)top[i]->requests);
    }
}

void summary_hosts_free(summary *s)
{
    summary_host *h, *tmp;
    HASH_ITER(hh, s->hosts, h, tmp)
    {
        HASH_DEL(s->hosts, h);
        free(h);
    }
    s->nhosts = 0;
}
