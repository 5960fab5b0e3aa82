/* A following reader blocked in msl_reader_next is woken by msl_reader_stop from another
 * thread and returns MSL_END. Usage: follow EMPTY_DIR */
#include <threads.h>
#include <time.h>

#include "check.h"

static msl_reader *reader;

static int stopper(void *arg) {
    (void)arg;
    thrd_sleep(&(struct timespec){.tv_nsec = 300 * 1000 * 1000}, NULL);
    CHECK_STATUS(msl_reader_stop(reader), MSL_OK);
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s EMPTY_DIR\n", argv[0]);
        return 2;
    }
    msl_record rec;
    CHECK_STATUS(msl_reader_open(argv[1], NULL, 0, false, &reader), MSL_OK);
    CHECK_STATUS(msl_reader_next(reader, &rec, -1), MSL_END); /* not following: ends at once */
    msl_reader_free(reader);

    CHECK_STATUS(msl_reader_open(argv[1], NULL, 0, true, &reader), MSL_OK);
    CHECK_STATUS(msl_reader_next(reader, &rec, 100), MSL_TIMEOUT);
    thrd_t t;
    thrd_create(&t, stopper, NULL);
    double start = now_s();
    CHECK_STATUS(msl_reader_next(reader, &rec, -1), MSL_END); /* blocks until stopped */
    double waited = now_s() - start;
    thrd_join(t, NULL);
    CHECK(waited >= 0.2, "msl_reader_next blocked until the stop (%.3f s)", waited);
    CHECK_STATUS(msl_reader_next(reader, &rec, -1), MSL_END); /* stays stopped */
    msl_reader_free(reader);
    return report();
}
