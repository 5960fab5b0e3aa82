/* Writes through the global SDK (10,000 records) and one producer shared by 4 threads
 * (10,000 records each), then -- once run.sh stopped the server -- reads the server's
 * folder back and checks every record: type, bytes, count, and order per source.
 * Usage: roundtrip write ADDR | roundtrip verify DIR */
#include <stdlib.h>
#include <threads.h>

#include "check.h"

#define PER_SOURCE 10000u
#define THREADS 4
#define GLOBAL_TYPE 1001
#define THREAD_TYPE 2001 /* + thread index */

static msl_producer *producer;
static atomic_int thread_errors;

static int commit_thread(void *arg) {
    int src = 1 + (int)(size_t)arg;
    unsigned char buf[256];
    for (unsigned seq = 0; seq < PER_SOURCE; seq++) {
        size_t len = payload(src, seq, buf);
        msl_status st = msl_producer_commit(producer, (int16_t)(THREAD_TYPE + src - 1), buf, len);
        if (st != MSL_OK) {
            if (atomic_fetch_add(&thread_errors, 1) == 0)
                printf("# thread %d: commit %u: %d %s\n", src, seq, (int)st, msl_last_error());
        }
    }
    return 0;
}

static int write_all(const char *addr) {
    unsigned char buf[256];
    CHECK_STATUS(msl_init(addr), MSL_OK);
    msl_producer_options opts;
    CHECK_STATUS(msl_producer_options_default(&opts), MSL_OK);
    CHECK_STATUS(msl_producer_new(addr, &opts, &producer), MSL_OK);

    thrd_t threads[THREADS];
    for (size_t t = 0; t < THREADS; t++) thrd_create(&threads[t], commit_thread, (void *)t);
    int global_errors = 0;
    for (unsigned seq = 0; seq < PER_SOURCE; seq++) {
        size_t len = payload(0, seq, buf);
        if (msl_commit(GLOBAL_TYPE, buf, len) != MSL_OK && global_errors++ == 0)
            printf("# global commit %u: %s\n", seq, msl_last_error());
    }
    for (size_t t = 0; t < THREADS; t++) thrd_join(threads[t], NULL);
    CHECK(global_errors == 0, "%u global commits", PER_SOURCE);
    CHECK(atomic_load(&thread_errors) == 0, "%u producer commits from %d threads", PER_SOURCE * THREADS, THREADS);
    CHECK_STATUS(msl_flush(60000), MSL_OK);
    CHECK_STATUS(msl_producer_flush(producer, 60000), MSL_OK);
    CHECK_STATUS(msl_producer_close(producer, 60000), MSL_OK);
    msl_producer_free(producer);
    CHECK_STATUS(msl_close(), MSL_OK);
    return report();
}

static int verify(const char *dir) {
    unsigned next_seq[1 + THREADS] = {0};
    unsigned char want[256];
    unsigned long total = 0, other = 0, bad_bytes = 0, bad_order = 0, bad_id = 0;
    char first_date[11] = "", last_date[11] = "";
    uint64_t expect_id = 0;

    msl_reader *r = NULL;
    CHECK_STATUS(msl_reader_open(dir, NULL, 0, false, &r), MSL_OK);
    msl_record rec;
    msl_status st;
    while ((st = msl_reader_next(r, &rec, 1000)) == MSL_OK) {
        if (strcmp(rec.date, last_date) != 0) {
            if (first_date[0] == 0) memcpy(first_date, rec.date, sizeof first_date);
            memcpy(last_date, rec.date, sizeof last_date);
            expect_id = 0;
        }
        if (rec.id != expect_id++) bad_id++;
        int src;
        if (rec.type == GLOBAL_TYPE)
            src = 0;
        else if (rec.type >= THREAD_TYPE && rec.type < THREAD_TYPE + THREADS)
            src = 1 + rec.type - THREAD_TYPE;
        else {
            other++; /* written by the other tests and the examples */
            continue;
        }
        total++;
        if (rec.len < 4) {
            bad_bytes++;
            continue;
        }
        unsigned seq = (unsigned)rec.data[0] | (unsigned)rec.data[1] << 8 | (unsigned)rec.data[2] << 16 |
                       (unsigned)rec.data[3] << 24;
        if (seq != next_seq[src]) bad_order++;
        next_seq[src] = seq + 1;
        size_t len = payload(src, seq, want);
        if (rec.len != len || memcmp(rec.data, want, len) != 0) bad_bytes++;
    }
    CHECK(st == MSL_END, "reader ends with MSL_END (got %d: %s)", (int)st, msl_last_error());
    CHECK(total == PER_SOURCE * (1 + THREADS), "%lu records read (want %u)", total, PER_SOURCE * (1 + THREADS));
    printf("# %lu records of other types (other tests, examples)\n", other);
    CHECK(bad_bytes == 0, "every payload is intact (%lu differ)", bad_bytes);
    CHECK(bad_order == 0, "per-source order kept (%lu out of order)", bad_order);
    CHECK(bad_id == 0, "ids count from 0 within each day (%lu gaps)", bad_id);
    for (int s = 0; s <= THREADS; s++) CHECK(next_seq[s] == PER_SOURCE, "source %d: last seq %u", s, next_seq[s]);
    CHECK(strlen(first_date) == 10 && first_date[4] == '-' && first_date[7] == '-', "date looks like YYYY-MM-DD: %s",
          first_date);
    CHECK_STATUS(msl_reader_next(r, &rec, 0), MSL_END);
    msl_reader_free(r);

    /* Starting in the middle of a day. */
    CHECK_STATUS(msl_reader_open(dir, first_date, 5000, false, &r), MSL_OK);
    CHECK_STATUS(msl_reader_next(r, &rec, 0), MSL_OK);
    CHECK(rec.id == 5000 && strcmp(rec.date, first_date) == 0, "from (%s, 5000): got (%s, %llu)", first_date, rec.date,
          (unsigned long long)rec.id);
    msl_reader_free(r);

    /* msl_reader_next_batch gives the same records as msl_reader_next, in order. */
    msl_reader *one = NULL;
    CHECK_STATUS(msl_reader_open(dir, NULL, 0, false, &one), MSL_OK);
    CHECK_STATUS(msl_reader_open(dir, NULL, 0, false, &r), MSL_OK);
    enum { CAP = 100 };
    msl_record batch[CAP];
    size_t got = 0;
    unsigned long batched = 0, batches = 0, differ = 0;
    while ((st = msl_reader_next_batch(r, batch, CAP, &got, 1000)) == MSL_OK) {
        batches++;
        for (size_t i = 0; i < got; i++, batched++) {
            if (msl_reader_next(one, &rec, 0) != MSL_OK || strcmp(rec.date, batch[i].date) != 0 ||
                rec.id != batch[i].id || rec.type != batch[i].type || rec.time != batch[i].time ||
                rec.len != batch[i].len || (rec.len > 0 && memcmp(rec.data, batch[i].data, rec.len) != 0))
                differ++;
        }
    }
    CHECK(st == MSL_END && got == 0, "a batch reader ends with MSL_END and n = 0 (got %d, n %zu)", (int)st, got);
    CHECK(batched == total + other && differ == 0, "%lu records in %lu batches, %lu differ from msl_reader_next", batched,
          batches, differ);
    CHECK(batches == (batched + CAP - 1) / CAP, "batches are full while records are there (%lu for %lu)", batches,
          batched);
    CHECK_STATUS(msl_reader_next(one, &rec, 0), MSL_END);
    CHECK_STATUS(msl_reader_next_batch(r, batch, 0, &got, 0), MSL_INVALID_ARGUMENT);
    msl_reader_free(one);
    msl_reader_free(r);

    /* msl_reader_next_columns gives the same records too, one day per batch. */
    CHECK_STATUS(msl_reader_open(dir, NULL, 0, false, &one), MSL_OK);
    CHECK_STATUS(msl_reader_open(dir, NULL, 0, false, &r), MSL_OK);
    msl_columns cols;
    unsigned long columned = 0, col_batches = 0, col_differ = 0, col_bad_shape = 0;
    while ((st = msl_reader_next_columns(r, &cols, 1000, 0, 1000)) == MSL_OK) {
        col_batches++;
        if (cols.count == 0 || cols.count > 1000 || cols.offsets[0] != 0) col_bad_shape++;
        for (size_t i = 0; i < cols.count; i++, columned++) {
            size_t len = cols.offsets[i + 1] - cols.offsets[i];
            if (msl_reader_next(one, &rec, 0) != MSL_OK || strcmp(rec.date, cols.date) != 0 ||
                rec.id != cols.first_id + i || rec.type != cols.types[i] || rec.time != cols.times[i] ||
                rec.len != len || (len > 0 && memcmp(rec.data, cols.data + cols.offsets[i], len) != 0))
                col_differ++;
        }
    }
    CHECK(st == MSL_END && cols.count == 0 && cols.data == NULL,
          "a columns reader ends with MSL_END and an empty batch (got %d, count %zu)", (int)st, cols.count);
    CHECK(columned == total + other && col_differ == 0 && col_bad_shape == 0,
          "%lu records in %lu column batches, %lu differ from msl_reader_next, %lu malformed", columned, col_batches,
          col_differ, col_bad_shape);
    CHECK_STATUS(msl_reader_next(one, &rec, 0), MSL_END);
    msl_reader_free(one);
    msl_reader_free(r);

    /* Following the (stopped) store: everything, then MSL_TIMEOUT. */
    CHECK_STATUS(msl_reader_open(dir, last_date, 0, true, &r), MSL_OK);
    unsigned long n = 0;
    while ((st = msl_reader_next(r, &rec, 200)) == MSL_OK) n++;
    CHECK(st == MSL_TIMEOUT, "a follow reader times out at the live end (got %d)", (int)st);
    CHECK(n > 0, "it read %lu records of the last day first", n);
    got = 1;
    CHECK_STATUS(msl_reader_next_batch(r, batch, CAP, &got, 100), MSL_TIMEOUT);
    CHECK(got == 0, "a timed-out batch holds no record (n %zu)", got);
    CHECK_STATUS(msl_reader_next_columns(r, &cols, 0, 0, 100), MSL_TIMEOUT);
    CHECK(cols.count == 0 && cols.times == NULL, "a timed-out column batch is empty (count %zu)", cols.count);
    msl_reader_free(r);
    return report();
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "write") == 0) return write_all(argv[2]);
    if (argc == 3 && strcmp(argv[1], "verify") == 0) return verify(argv[2]);
    fprintf(stderr, "usage: %s write ADDR | verify DIR\n", argv[0]);
    return 2;
}
