/* Prints the records of a store folder, from a day (or the earliest) onwards.
 * Usage: reader DIR [YYYY-MM-DD [ID]] [--follow] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <modsynclog.h>

int main(int argc, char **argv) {
    const char *dir = NULL, *date = NULL;
    uint64_t id = 0;
    bool follow = false;
    int positional = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--follow") == 0) follow = true;
        else if (positional == 0) dir = argv[i], positional++;
        else if (positional == 1) date = argv[i], positional++;
        else id = strtoull(argv[i], NULL, 10), positional++;
    }
    if (dir == NULL) {
        fprintf(stderr, "usage: %s DIR [YYYY-MM-DD [ID]] [--follow]\n", argv[0]);
        return 2;
    }

    msl_reader *reader;
    if (msl_reader_open(dir, date, id, follow, &reader) != MSL_OK) {
        fprintf(stderr, "open: %s\n", msl_last_error());
        return 1;
    }
    msl_record rec;
    msl_status st;
    long count = 0;
    /* Wait forever for new records when following (stop with Ctrl-C). */
    while ((st = msl_reader_next(reader, &rec, -1)) == MSL_OK) {
        /* rec.data is borrowed: valid until the next msl_reader_next / msl_reader_free. */
        printf("%s #%llu type=%d %.*s\n", rec.date, (unsigned long long)rec.id, rec.type, (int)rec.len,
               (const char *)rec.data);
        count++;
    }
    int failed = st != MSL_END;
    if (failed) fprintf(stderr, "read: %s\n", msl_last_error());
    msl_reader_free(reader);
    fprintf(stderr, "%ld records\n", count);
    return failed;
}
