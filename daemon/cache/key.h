/* Cache keys: the text that names one object (namespace, normalised path and query) and its
 * SHA-256 digest, which names the object's files. No part of a URL ever becomes a file name. */
#ifndef MCC_CACHE_KEY_H
#define MCC_CACHE_KEY_H

#include <stddef.h>
#include <stdint.h>

#define MCC_CACHE_KEY_LEN 32     /* SHA-256 digest bytes */
#define MCC_CACHE_KEY_HEX_LEN 65 /* 64 lower-case hex digits and a NUL */

/* Computes the key of object PATH (?QUERY) in namespace NS.
 * Key text = NS "\n" normalised PATH, then "?" normalised QUERY when QUERY (with every
 * cacheHostOrigin parameter removed) is not empty. Normalisation, the same in path and query:
 * escapes of unreserved characters (ALPHA DIGIT - . _ ~) are decoded, "%2B" becomes '+' (a
 * literal plus and its escape name one object), other escapes get upper-case hex, bytes that
 * may not appear raw in a URI (controls, space, non-ASCII, "<>\"\\^`{|}") and '#' are escaped
 * (so is a raw '?' in the path: no path spells the same text as a path and a query); the
 * order of query parameters is kept, empty parameters are dropped. A '%' not followed by two
 * hex digits becomes "%25".
 * NS must not contain '\n' (host rules refuse such namespaces). QUERY may be NULL.
 * Writes the digest to OUT. When TEXT_OUT is not NULL, the key text is also written there
 * (NUL-terminated); MCC_ERROR if it does not fit in TEXT_SIZE. MCC_ERROR also on out-of-memory. */
int mcc_cache_key(const char *ns, const char *path, const char *query,
                  uint8_t out[MCC_CACHE_KEY_LEN], char *text_out, size_t text_size);

/* Writes KEY as 64 lower-case hex digits and a NUL into HEX. */
void mcc_cache_key_hex(const uint8_t key[MCC_CACHE_KEY_LEN], char hex[MCC_CACHE_KEY_HEX_LEN]);

/* Reads 64 hex digits (either case) back into KEY. MCC_OK, or MCC_ERROR on any other text. */
int mcc_cache_key_from_hex(const char *hex, uint8_t key[MCC_CACHE_KEY_LEN]);

#endif
