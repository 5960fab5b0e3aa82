/* Throughput of the C API from one thread (figures only, nothing asserted).
 *   bench commit ADDR N   N commits of 100-byte records through the global SDK (default
 *                         options), then through a producer whose queue holds all N;
 *                         prints commits/s queued (the msl_commit calls alone) and
 *                         acknowledged (including the final flush).
 *                         MSL_BENCH_BATCH / MSL_BENCH_LINGER_MS change the producer's batch_max_records
 *                         (with batch_max_bytes = 64 MiB) and linger_ms, for experiments.
 *   bench scan DIR        reads every record of a store folder; prints records/s.
 * For scripts/bench-sdk.sh (issue 13), each printing a `RESULT <what> <rate>` line:
 *   bench sdk-commit ADDR N   a producer with default options: 10,000 records + flush to
 *                             warm up, then N commits + flush; acknowledged records/s.
 *   bench sdk-scan DIR PASSES reads DIR (opened inside the timing), summing payload
 *                             lengths, PASSES times each way: msl_reader_next_batch
 *                             (RESULT scan), msl_reader_next (RESULT scan-one) and
 *                             msl_reader_next_columns (RESULT scan-columns); the best
 *                             records/s of each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "modsynclog.h"

static double now_s(void) {
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef msl_status (*commit_fn)(void *ctx, const uint8_t *data, size_t len);
typedef msl_status (*flush_fn)(void *ctx);

static msl_status global_commit(void *ctx, const uint8_t *data, size_t len) {
    (void)ctx;
    return msl_commit(1101, data, len);
}
static msl_status global_flush(void *ctx) {
    (void)ctx;
    return msl_flush(-1);
}
static msl_status producer_commit(void *ctx, const uint8_t *data, size_t len) {
    return msl_producer_commit(ctx, 1101, data, len);
}
static msl_status producer_flush(void *ctx) { return msl_producer_flush(ctx, -1); }

static double last_acked; /* acknowledged records/s of the last run() */

static int run(const char *label, long n, commit_fn commit, flush_fn flush, void *ctx) {
    uint8_t rec[100];
    memset(rec, 'x', sizeof rec);
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        memcpy(rec, &i, sizeof i);
        if (commit(ctx, rec, sizeof rec) != MSL_OK) {
            fprintf(stderr, "%s: commit %ld: %s\n", label, i, msl_last_error());
            return 1;
        }
    }
    double t1 = now_s();
    if (flush(ctx) != MSL_OK) {
        fprintf(stderr, "%s: flush: %s\n", label, msl_last_error());
        return 1;
    }
    double t2 = now_s();
    last_acked = (double)n / (t2 - t0);
    printf("%-34s %9ld records  queued %10.0f commits/s (%.3f s, %.0f ns/commit)  acknowledged %10.0f commits/s "
           "(%.3f s)\n",
           label, n, (double)n / (t1 - t0), t1 - t0, (t1 - t0) * 1e9 / (double)n, (double)n / (t2 - t0), t2 - t0);
    return 0;
}

static int bench_commit(const char *addr, long n) {
    if (msl_init(addr) != MSL_OK) {
        fprintf(stderr, "init: %s\n", msl_last_error());
        return 1;
    }
    /* Warm up: connect, start the stream. */
    if (run("warm-up (global)", 10000, global_commit, global_flush, NULL)) return 1;
    if (run("global SDK, default options", n, global_commit, global_flush, NULL)) return 1;

    msl_producer_options opts;
    msl_producer_options_default(&opts);
    opts.queue_capacity = (size_t)n + 1;
    /* Optional knobs for experiments: MSL_BENCH_BATCH (records per batch), MSL_BENCH_LINGER_MS. */
    if (getenv("MSL_BENCH_BATCH")) {
        opts.batch_max_records = (size_t)atol(getenv("MSL_BENCH_BATCH"));
        opts.batch_max_bytes = 64u << 20;
    }
    if (getenv("MSL_BENCH_LINGER_MS")) opts.linger_ms = (uint32_t)atol(getenv("MSL_BENCH_LINGER_MS"));
    msl_producer *p;
    if (msl_producer_new(addr, &opts, &p) != MSL_OK) {
        fprintf(stderr, "producer: %s\n", msl_last_error());
        return 1;
    }
    if (run("warm-up (producer)", 10000, producer_commit, producer_flush, p)) return 1;
    int rc = run("producer, queue_capacity = N", n, producer_commit, producer_flush, p);
    msl_producer_free(p);
    msl_close();
    return rc;
}

static int bench_scan(const char *dir) {
    msl_reader *r;
    if (msl_reader_open(dir, NULL, 0, false, &r) != MSL_OK) {
        fprintf(stderr, "open: %s\n", msl_last_error());
        return 1;
    }
    msl_record rec;
    msl_status st;
    unsigned long n = 0, bytes = 0, sum = 0;
    double t0 = now_s();
    while ((st = msl_reader_next(r, &rec, 0)) == MSL_OK) {
        n++;
        bytes += rec.len;
        sum += rec.len ? rec.data[rec.len - 1] : 0;
    }
    double t1 = now_s();
    msl_reader_free(r);
    if (st != MSL_END) {
        fprintf(stderr, "scan: %s\n", msl_last_error());
        return 1;
    }
    printf("%-34s %9lu records  %10.0f records/s (%.3f s, %.1f MB/s payload, checksum %lu)\n", "reader scan", n,
           (double)n / (t1 - t0), t1 - t0, (double)bytes / (t1 - t0) / 1e6, sum);
    return 0;
}

static int sdk_commit(const char *addr, long n) {
    msl_producer_options opts;
    msl_producer_options_default(&opts);
    msl_producer *p;
    if (msl_producer_new(addr, &opts, &p) != MSL_OK) {
        fprintf(stderr, "producer: %s\n", msl_last_error());
        return 1;
    }
    if (run("warm-up (producer)", 10000, producer_commit, producer_flush, p)) return 1;
    int rc = run("producer, default options", n, producer_commit, producer_flush, p);
    msl_producer_free(p);
    if (rc == 0) printf("RESULT commit %.0f\n", last_acked);
    return rc;
}

/* One scan pass: msl_reader_next (batch 0), msl_reader_next_batch (batch records a call)
 * or msl_reader_next_columns (batch COLUMNS, default limits). Records/s, or -1. */
#define COLUMNS ((size_t)-1)
static double scan_pass(const char *dir, size_t batch) {
    static msl_record recs[4096];
    double t0 = now_s();
    msl_reader *r;
    if (msl_reader_open(dir, NULL, 0, false, &r) != MSL_OK) {
        fprintf(stderr, "open: %s\n", msl_last_error());
        return -1;
    }
    msl_status st;
    unsigned long n = 0, bytes = 0;
    if (batch == 0) {
        while ((st = msl_reader_next(r, &recs[0], 0)) == MSL_OK) {
            n++;
            bytes += recs[0].len;
        }
    } else if (batch == COLUMNS) {
        msl_columns cols;
        while ((st = msl_reader_next_columns(r, &cols, 0, 0, 0)) == MSL_OK) {
            n += cols.count;
            bytes += cols.offsets[cols.count];
        }
    } else {
        size_t got;
        while ((st = msl_reader_next_batch(r, recs, batch, &got, 0)) == MSL_OK) {
            for (size_t i = 0; i < got; i++) bytes += recs[i].len;
            n += got;
        }
    }
    double t1 = now_s();
    msl_reader_free(r);
    if (st != MSL_END) {
        fprintf(stderr, "scan: %s\n", msl_last_error());
        return -1;
    }
    printf("C %s scan: %lu records, %lu B in %.3f s\n",
           batch == 0 ? "msl_reader_next" : batch == COLUMNS ? "msl_reader_next_columns" : "msl_reader_next_batch(1024)",
           n, bytes, t1 - t0);
    return (double)n / (t1 - t0);
}

static int sdk_scan(const char *dir, int passes) {
    double best = 0, best_one = 0, best_columns = 0;
    for (int pass = 0; pass < passes; pass++) {
        double one = scan_pass(dir, 0), batched = scan_pass(dir, 1024), columns = scan_pass(dir, COLUMNS);
        if (one < 0 || batched < 0 || columns < 0) return 1;
        if (one > best_one) best_one = one;
        if (batched > best) best = batched;
        if (columns > best_columns) best_columns = columns;
    }
    printf("RESULT scan %.0f\nRESULT scan-one %.0f\nRESULT scan-columns %.0f\n", best, best_one, best_columns);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "commit") == 0) return bench_commit(argv[2], atol(argv[3]));
    if (argc == 3 && strcmp(argv[1], "scan") == 0) return bench_scan(argv[2]);
    if (argc == 4 && strcmp(argv[1], "sdk-commit") == 0) return sdk_commit(argv[2], atol(argv[3]));
    if (argc == 4 && strcmp(argv[1], "sdk-scan") == 0) return sdk_scan(argv[2], atoi(argv[3]));
    fprintf(stderr, "usage: %s commit ADDR N | scan DIR | sdk-commit ADDR N | sdk-scan DIR PASSES\n", argv[0]);
    return 2;
}
