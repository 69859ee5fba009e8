/* What every fuzz target shares: the libFuzzer entry points, an invariant check that crashes
 * loudly (the fuzzer and the corpus replay both see a crash), and input slicing helpers. */
#ifndef MCC_FUZZ_H
#define MCC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant of the code under test was broken by this input: abort, so that libFuzzer
 * saves the input and the replay program fails. */
#define FUZZ_CHECK(cond)                                                                    \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);    \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

/* A NUL-terminated copy of LEN bytes at P (embedded NULs end the string early, as they would
 * for the C string the daemon gets). Aborts on out-of-memory: never an input problem. */
static inline char *fuzz_str(const uint8_t *p, size_t len)
{
    char *s = malloc(len + 1);
    if (s == NULL)
        abort();
    if (len > 0)
        memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

/* Splits [DATA, DATA+SIZE) at the first SEP: *HEAD gets the part before, the return value the
 * part after (NULL when there is no SEP; then *HEAD is all of it). Both are malloc'ed. */
static inline char *fuzz_split(const uint8_t *data, size_t size, uint8_t sep, char **head)
{
    const uint8_t *at = size > 0 ? memchr(data, sep, size) : NULL;
    if (at == NULL) {
        *head = fuzz_str(data, size);
        return NULL;
    }
    *head = fuzz_str(data, (size_t)(at - data));
    return fuzz_str(at + 1, size - (size_t)(at - data) - 1);
}

#endif
