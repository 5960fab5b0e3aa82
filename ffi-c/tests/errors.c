/* Bad input and error reporting: status codes, msl_last_error, NULL arguments, invalid
 * UTF-8, *_free(NULL), init rules, size limits, closed producers, missing folders.
 * Usage: errors ADDR MISSING_DIR */
#include <stdlib.h>
#include <threads.h>

#include "check.h"

static int other_thread(void *arg) {
    (void)arg;
    /* Errors are per thread: this thread has made no call yet. */
    CHECK(strcmp(msl_last_error(), "") == 0, "last error is per thread (empty in a new thread)");
    CHECK(msl_last_error_code() == MSL_OK, "last error code is per thread");
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s ADDR MISSING_DIR\n", argv[0]);
        return 2;
    }
    const char *addr = argv[1], *missing = argv[2];
    unsigned char small[8] = "abcdefg";

    CHECK(msl_version() != NULL && strlen(msl_version()) > 0, "msl_version() = %s", msl_version());
    CHECK(strcmp(msl_last_error(), "") == 0, "no error before any call");
    CHECK(msl_last_error_code() == MSL_OK, "code MSL_OK before any call");

    /* The global SDK before init. */
    CHECK_STATUS(msl_commit(1101, small, sizeof small), MSL_NOT_INITIALIZED);
    CHECK(msl_last_error_code() == MSL_NOT_INITIALIZED, "msl_last_error_code() follows the failed call");
    CHECK(strlen(msl_last_error()) > 0, "msl_last_error() explains it: %s", msl_last_error());
    CHECK_STATUS(msl_flush(0), MSL_NOT_INITIALIZED);
    CHECK_STATUS(msl_close(), MSL_NOT_INITIALIZED);

    thrd_t t;
    CHECK(thrd_create(&t, other_thread, NULL) == thrd_success, "thread started");
    thrd_join(t, NULL);

    /* NULL arguments. */
    CHECK_STATUS(msl_init(NULL), MSL_INVALID_ARGUMENT);
    CHECK(strstr(msl_last_error(), "NULL") != NULL, "message names the NULL: %s", msl_last_error());
    CHECK_STATUS(msl_init_with_options(NULL, NULL), MSL_INVALID_ARGUMENT);
    CHECK_STATUS(msl_commit(1101, NULL, 5), MSL_INVALID_ARGUMENT);
    CHECK_STATUS(msl_producer_options_default(NULL), MSL_INVALID_ARGUMENT);
    msl_producer *p = (msl_producer *)&p; /* not NULL: must be reset on failure */
    CHECK_STATUS(msl_producer_new(NULL, NULL, &p), MSL_INVALID_ARGUMENT);
    CHECK(p == NULL, "msl_producer_new sets *out = NULL on failure");
    CHECK_STATUS(msl_producer_new(addr, NULL, NULL), MSL_INVALID_ARGUMENT);
    CHECK_STATUS(msl_producer_commit(NULL, 1, small, 1), MSL_INVALID_ARGUMENT);
    CHECK_STATUS(msl_producer_flush(NULL, 0), MSL_INVALID_ARGUMENT);
    CHECK_STATUS(msl_producer_close(NULL, 0), MSL_INVALID_ARGUMENT);
    msl_reader *r = (msl_reader *)&r;
    CHECK_STATUS(msl_reader_open(NULL, NULL, 0, false, &r), MSL_INVALID_ARGUMENT);
    CHECK(r == NULL, "msl_reader_open sets *out = NULL on failure");
    CHECK_STATUS(msl_reader_open(missing, NULL, 0, false, NULL), MSL_INVALID_ARGUMENT);
    msl_record rec;
    CHECK_STATUS(msl_reader_next(NULL, &rec, 0), MSL_INVALID_ARGUMENT);
    size_t n = 7;
    CHECK_STATUS(msl_reader_next_batch(NULL, &rec, 1, &n, 0), MSL_INVALID_ARGUMENT);
    CHECK(n == 0, "a failed batch sets n to 0 (%zu)", n);
    CHECK_STATUS(msl_reader_next_batch(NULL, &rec, 1, NULL, 0), MSL_INVALID_ARGUMENT);
    msl_columns cols;
    cols.count = 7;
    CHECK_STATUS(msl_reader_next_columns(NULL, &cols, 0, 0, 0), MSL_INVALID_ARGUMENT);
    CHECK(cols.count == 0 && cols.data == NULL, "a failed column batch is empty (%zu)", cols.count);
    CHECK_STATUS(msl_reader_next_columns(NULL, NULL, 0, 0, 0), MSL_INVALID_ARGUMENT);
    CHECK_STATUS(msl_reader_stop(NULL), MSL_INVALID_ARGUMENT);

    /* Invalid UTF-8 and malformed values. */
    CHECK_STATUS(msl_init("127.0.0.1:\xff\xfe"), MSL_INVALID_ARGUMENT);
    CHECK(strstr(msl_last_error(), "UTF-8") != NULL, "message says UTF-8: %s", msl_last_error());
    CHECK_STATUS(msl_init(""), MSL_INVALID_ARGUMENT);
    CHECK_STATUS(msl_reader_open("\xc3\x28", NULL, 0, false, &r), MSL_INVALID_ARGUMENT);
    CHECK_STATUS(msl_reader_open(missing, "2024-13-01", 0, false, &r), MSL_INVALID_ARGUMENT);
    CHECK_STATUS(msl_reader_open(missing, "20240101", 0, false, &r), MSL_INVALID_ARGUMENT);
    msl_producer_options opts;
    CHECK_STATUS(msl_producer_options_default(&opts), MSL_OK);
    CHECK(opts.token == NULL && opts.batch_max_records == 1000 && opts.queue_capacity == 100000 &&
              opts.linger_ms == 5 && !opts.legacy && opts.max_record_len == 4u << 20,
          "default options");
    opts.token = "tok\xff";
    CHECK_STATUS(msl_producer_new(addr, &opts, &p), MSL_INVALID_ARGUMENT);
    opts.token = NULL;
    opts.queue_capacity = 0;
    CHECK_STATUS(msl_producer_new(addr, &opts, &p), MSL_INVALID_ARGUMENT);
    CHECK(p == NULL, "no producer on failure");

    /* A missing folder. */
    CHECK_STATUS(msl_reader_open(missing, NULL, 0, false, &r), MSL_NOT_FOUND);
    CHECK(r == NULL, "no reader on failure");

    /* Freeing NULL does nothing (and clears the last error). */
    msl_producer_free(NULL);
    msl_reader_free(NULL);
    CHECK(msl_last_error_code() == MSL_OK, "*_free(NULL) is a no-op");

    /* init: once per process; the same address again is fine, another one is not. */
    CHECK_STATUS(msl_init(addr), MSL_OK);
    CHECK(strcmp(msl_last_error(), "") == 0, "success clears the message");
    CHECK_STATUS(msl_init(addr), MSL_OK);
    CHECK_STATUS(msl_init("127.0.0.1:1"), MSL_ALREADY_INITIALIZED);
    CHECK(strlen(msl_last_error()) > 0, "%s", msl_last_error());

    /* Sizes: an empty record is fine, one over the 4 MiB limit is refused. */
    CHECK_STATUS(msl_commit(1101, NULL, 0), MSL_OK);
    size_t big_len = (4u << 20) + 1;
    unsigned char *big = calloc(big_len, 1);
    CHECK_STATUS(msl_commit(1101, big, big_len), MSL_TOO_LARGE);
    CHECK(strlen(msl_last_error()) > 0, "%s", msl_last_error());
    CHECK_STATUS(msl_commit(1101, small, sizeof small), MSL_OK);
    CHECK_STATUS(msl_flush(10000), MSL_OK);

    /* A producer: commit, close, then commit again. */
    CHECK_STATUS(msl_producer_options_default(&opts), MSL_OK);
    opts.linger_ms = 1;
    CHECK_STATUS(msl_producer_new(addr, &opts, &p), MSL_OK);
    CHECK(p != NULL, "producer created");
    CHECK_STATUS(msl_producer_commit(p, 1201, small, sizeof small), MSL_OK);
    CHECK_STATUS(msl_producer_commit(p, 1201, big, big_len), MSL_TOO_LARGE);
    CHECK_STATUS(msl_producer_flush(p, 10000), MSL_OK);
    CHECK_STATUS(msl_producer_close(p, 10000), MSL_OK);
    CHECK_STATUS(msl_producer_commit(p, 1201, small, sizeof small), MSL_CLOSED);
    CHECK(strlen(msl_last_error()) > 0, "%s", msl_last_error());
    msl_producer_free(p);
    free(big);

    /* A producer freed without closing: free closes it. */
    CHECK_STATUS(msl_producer_new(addr, NULL, &p), MSL_OK);
    CHECK_STATUS(msl_producer_commit(p, 1201, small, sizeof small), MSL_OK);
    msl_producer_free(p);
    CHECK(msl_last_error_code() == MSL_OK, "msl_producer_free closes and frees");

    /* The global SDK after close. */
    CHECK_STATUS(msl_close(), MSL_OK);
    CHECK_STATUS(msl_commit(1101, small, sizeof small), MSL_CLOSED);
    CHECK_STATUS(msl_init(addr), MSL_OK); /* same address: still a no-op, still closed */
    CHECK_STATUS(msl_commit(1101, small, sizeof small), MSL_CLOSED);

    return report();
}
