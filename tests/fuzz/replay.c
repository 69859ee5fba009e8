/* Replays fuzz inputs without libFuzzer: every file named on the command line (or found in a
 * directory named there) goes through LLVMFuzzerTestOneInput once. Built with any compiler, so
 * the normal test suite keeps every corpus file passing. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Targets that need set-up define LLVMFuzzerInitialize; the others link without one. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long len;
    int rc = -1;

    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "%s: cannot size it\n", path);
        goto out;
    }
    /* an exact-size buffer, so that ASan sees a read past the input as the fuzzer would */
    buf = malloc(len > 0 ? (size_t)len : 1);
    if (buf == NULL || (len > 0 && fread(buf, 1, (size_t)len, f) != (size_t)len)) {
        fprintf(stderr, "%s: read failed\n", path);
        goto out;
    }
    LLVMFuzzerTestOneInput(buf, (size_t)len);
    rc = 0;
out:
    free(buf);
    fclose(f);
    return rc;
}

static int replay_entry_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of DIR in name order (a stable order makes a failure easy to repeat). */
static int replay_dir(const char *dir, unsigned *count)
{
    DIR *dh = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    if (dh == NULL) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((de = readdir(dh)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap > 0 ? cap * 2 : 64;
            char **p = realloc(names, cap * sizeof(*names));
            if (p == NULL) {
                rc = -1;
                goto out;
            }
            names = p;
        }
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        names[n] = malloc(len);
        if (names[n] == NULL) {
            rc = -1;
            goto out;
        }
        snprintf(names[n], len, "%s/%s", dir, de->d_name);
        n++;
    }
    if (n > 1)
        qsort(names, n, sizeof(*names), replay_entry_cmp);
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = replay_file(names[i]);
        (*count)++;
    }
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(dh);
    return rc;
}

int main(int argc, char **argv)
{
    unsigned count = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE-OR-DIR...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize != NULL)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        int rc;
        if (stat(argv[i], &sb) != 0) {
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        if (S_ISDIR(sb.st_mode)) {
            rc = replay_dir(argv[i], &count);
        } else {
            rc = replay_file(argv[i]);
            count++;
        }
        if (rc != 0)
            return 1;
    }
    if (count == 0) {
        fprintf(stderr, "no inputs found: an empty corpus replays nothing\n");
        return 1;
    }
    printf("%u inputs replayed, no invariant broken\n", count);
    return 0;
}
