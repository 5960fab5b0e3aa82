/* The C SDK against a server whose disk fills up (scripts/full-disk.sh).
 *
 *   writer ADDR TAG DIR PAD BATCH FLUSH_EVERY
 *
 * Starts the global SDK (batch_max_records = BATCH), prints "TAG: ready" and waits for the
 * file DIR/start. Then commits records of type 11, "TAG:<i>:" then PAD bytes 'c', flushing
 * every FLUSH_EVERY (so FLUSH_EVERY / BATCH batches are in flight), until a commit or a
 * flush returns MSL_NO_SPACE, which must come at once (not after the flush's 60 s
 * timeout). Prints how many records were acknowledged then, waits for DIR/freed (the
 * script frees space and creates it), flushes until the kept records are delivered (a
 * flush returns MSL_NO_SPACE at once until the server stores again), commits 200 more and
 * flushes. The last line is `RESULT tag=... total=N`: records 0..N-1 are acknowledged.
 * Any other outcome prints a line starting with FAIL and exits 1.
 *
 * The writers in Rust, Python, Node and Go do the same. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <modsynclog.h>

#define TYPE 11
#define MORE 200

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void nap(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Waits up to 180 s for `path` to exist. */
static int wait_for(const char *path) {
    for (int w = 0; access(path, F_OK) != 0; w++) {
        if (w > 1800) return 0;
        nap(100);
    }
    return 1;
}

static int fail(const char *tag, const char *what, msl_status st) {
    printf("FAIL %s: %s returned %d: %s\n", tag, what, (int)st, msl_last_error());
    return 1;
}

static msl_status commit_one(const char *tag, long i, unsigned char *buf, long pad) {
    int len = snprintf((char *)buf, 64, "%s:%ld:", tag, i);
    memset(buf + len, 'c', (size_t)pad);
    return msl_commit(TYPE, buf, (size_t)len + (size_t)pad);
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s ADDR TAG DIR PAD BATCH FLUSH_EVERY\n", argv[0]);
        return 2;
    }
    const char *addr = argv[1], *tag = argv[2], *dir = argv[3];
    long pad = strtol(argv[4], NULL, 10), batch = strtol(argv[5], NULL, 10), flush_every = strtol(argv[6], NULL, 10);
    char start[4096], freed[4096];
    snprintf(start, sizeof start, "%s/start", dir);
    snprintf(freed, sizeof freed, "%s/freed", dir);
    unsigned char *buf = malloc(64 + (size_t)pad);
    if (buf == NULL) return 2;
    msl_producer_options o;
    msl_producer_options_default(&o);
    o.batch_max_records = (size_t)batch;
    msl_status st = msl_init_with_options(addr, &o);
    if (st != MSL_OK) return fail(tag, "msl_init_with_options", st);
    printf("%s: ready\n", tag);
    fflush(stdout);
    if (!wait_for(start)) {
        printf("FAIL %s: %s never appeared\n", tag, start);
        return 1;
    }

    /* Phase 1: until the server reports the full disk. */
    long i = 0, acked = 0;
    const char *from = NULL;
    double took = 0;
    char message[512] = "";
    while (from == NULL) {
        if (i > 1000000) {
            printf("FAIL %s: 1,000,000 records acknowledged and the disk never filled\n", tag);
            return 1;
        }
        st = commit_one(tag, i, buf, pad);
        if (st == MSL_NO_SPACE) {
            from = "commit";
            break;
        }
        if (st != MSL_OK) return fail(tag, "msl_commit", st);
        i++;
        if (i % flush_every == 0) {
            double t = now();
            st = msl_flush(60000);
            took = now() - t;
            if (st == MSL_OK) {
                acked = i;
            } else if (st == MSL_NO_SPACE) {
                from = "flush";
            } else {
                return fail(tag, "msl_flush", st);
            }
        }
    }
    snprintf(message, sizeof message, "%s", msl_last_error());
    printf("%s: MSL_NO_SPACE from msl_%s after %.3f s: %ld records acknowledged before the error, %ld committed\n",
           tag, from, took, acked, i);
    printf("%s: message: %s\n", tag, message);
    long committed = i;
    if (took > 5.0) {
        printf("FAIL %s: the full disk was reported after %.1f s, not at once\n", tag, took);
        return 1;
    }
    fflush(stdout);

    /* Phase 2: the script frees space. */
    if (!wait_for(freed)) {
        printf("FAIL %s: %s never appeared\n", tag, freed);
        return 1;
    }
    double t = now();
    while ((st = msl_flush(60000)) == MSL_NO_SPACE && now() - t < 60) nap(250);
    if (st != MSL_OK) return fail(tag, "msl_flush after freeing space", st);
    printf("%s: delivered the %ld records kept since the disk filled, %.1f s after space was freed\n", tag, i - acked,
           now() - t);
    for (long end = i + MORE; i < end; i++) {
        st = commit_one(tag, i, buf, pad);
        if (st != MSL_OK) return fail(tag, "msl_commit after freeing space", st);
    }
    st = msl_flush(60000);
    if (st != MSL_OK) return fail(tag, "the last msl_flush", st);
    st = msl_close();
    if (st != MSL_OK) return fail(tag, "msl_close", st);
    printf("RESULT tag=%s acked_at_error=%ld committed_at_error=%ld error_from=%s total=%ld\n", tag, acked,
           committed, from, i);
    free(buf);
    return 0;
}
