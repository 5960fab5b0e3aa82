/* Producer: an msl_producer with explicit options, and what to do with each status.
 * Commits N records (type 1201, JSON), then flushes with a timeout and reports what the
 * server acknowledged. MODSYNCLOG_TOKEN (a bearer token) and MODSYNCLOG_CA (the CA file
 * of an https:// server) are used when set.
 *   MSL_QUEUE_FULL (the queue stayed full for enqueue_timeout_ms): wait a little, retry.
 *   MSL_NO_SPACE (the server's disk is full; the producer keeps its records): report, retry later.
 *   MSL_UNAUTHENTICATED / MSL_PERMISSION_DENIED: final, nothing can help; exit with status 3.
 * Usage: producer [ADDR [N]]   (default 127.0.0.1:1235 1000) */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <modsynclog.h>

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Reports a failed call; refused credentials exit with 3, anything else with 1. */
static int fail(const char *what, msl_status st) {
    fprintf(stderr, "%s: error %d: %s\n", what, (int)st, msl_last_error());
    return st == MSL_UNAUTHENTICATED || st == MSL_PERMISSION_DENIED ? 3 : 1;
}

int main(int argc, char **argv) {
    const char *addr = argc > 1 ? argv[1] : "127.0.0.1:1235";
    long n = argc > 2 ? atol(argv[2]) : 1000;

    msl_producer_options o;
    msl_producer_options_default(&o);
    o.linger_ms = 10;            /* batch what comes within 10 ms */
    o.enqueue_timeout_ms = 2000; /* a commit waits this long for room, then MSL_QUEUE_FULL */
    o.token = getenv("MODSYNCLOG_TOKEN"); /* NULL: none */
    msl_producer_config *cfg;
    msl_producer_config_new(&cfg);
    msl_producer_config_set_options(cfg, &o);
    msl_producer_config_set_queue_bytes(cfg, 1u << 20); /* at most 1 MiB of payloads waiting */
    msl_status st = MSL_OK;
    if (getenv("MODSYNCLOG_CA")) st = msl_producer_config_set_tls(cfg, getenv("MODSYNCLOG_CA"), NULL, NULL, NULL);
    msl_producer *p = NULL;
    if (st == MSL_OK) st = msl_producer_new_with_config(addr, cfg, &p);
    msl_producer_config_free(cfg); /* the producer keeps its own copy */
    if (st != MSL_OK) return fail("producer", st);

    for (long i = 0; i < n; i++) {
        char rec[64];
        int len = snprintf(rec, sizeof rec, "{\"lang\":\"c\",\"i\":%ld}", i);
        while ((st = msl_producer_commit(p, 1201, (const uint8_t *)rec, (size_t)len)) != MSL_OK) {
            if (st == MSL_QUEUE_FULL) {
                sleep_ms(100);
            } else if (st == MSL_NO_SPACE) {
                fprintf(stderr, "server disk full, retrying in 1 s: %s\n", msl_last_error());
                sleep_ms(1000);
            } else {
                int rc = fail("commit", st);
                msl_producer_free(p);
                return rc;
            }
        }
    }

    /* Wait up to 30 s for the acknowledgements; a full disk is retried until then. */
    time_t deadline = time(NULL) + 30;
    for (;;) {
        long left = (long)(deadline - time(NULL));
        st = msl_producer_flush(p, left > 0 ? 1000L * left : 0); /* (a negative timeout: forever) */
        if (st != MSL_NO_SPACE || left <= 0) break;
        fprintf(stderr, "server disk full, flushing again in 1 s\n");
        sleep_ms(1000);
    }
    if (st == MSL_OK) st = msl_producer_close(p, 10000);
    if (st != MSL_OK) {
        int rc = fail("flush", st); /* MSL_TIMEOUT: the message says how many are not acknowledged */
        msl_producer_free(p);
        return rc;
    }
    msl_producer_free(p);
    printf("committed %ld records, acknowledged %ld\n", n, n);
    return 0;
}
