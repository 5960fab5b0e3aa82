/* On an open network: msl_producer_config (TLS, queue bytes), refused credentials
 * (final MSL_UNAUTHENTICATED), the byte bound of the queue (MSL_QUEUE_FULL, try_commit),
 * and a TLS round trip (CA file, server name, client certificate) when TLS servers are
 * given.
 *
 * Usage: security AUTH_ADDR AUTH_DATA [TLS_PORT MTLS_PORT CERT_DIR TLS_DATA]
 *   AUTH_ADDR  a plaintext server started with --token s3cret, storing into AUTH_DATA
 *   TLS_PORT   a server on 127.0.0.1 with --tls-cert/--tls-key (CERT_DIR/server.*) and
 *              --token s3cret, storing into TLS_DATA
 *   MTLS_PORT  the same with --tls-client-ca CERT_DIR/ca.pem (no token)
 */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"

#define TOKEN "s3cret"

static double now_s(void) {
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const uint8_t msg[] = "hello over an open network";

/* Records in a store folder (0 when it cannot be read). */
static long count_records(const char *dir) {
    msl_reader *r = NULL;
    if (msl_reader_open(dir, NULL, 0, false, &r) != MSL_OK) return 0;
    msl_record rec;
    long n = 0;
    while (msl_reader_next(r, &rec, 0) == MSL_OK) n++;
    msl_reader_free(r);
    return n;
}

/* A config with `token` (may be NULL), an enqueue timeout, and the TLS files given. */
static msl_producer_config *config(const char *token, uint32_t enqueue_timeout_ms) {
    msl_producer_config *c = NULL;
    if (msl_producer_config_new(&c) != MSL_OK) return NULL;
    msl_producer_options o;
    msl_producer_options_default(&o);
    o.token = token;
    o.linger_ms = 1;
    o.enqueue_timeout_ms = enqueue_timeout_ms;
    if (msl_producer_config_set_options(c, &o) != MSL_OK) {
        msl_producer_config_free(c);
        return NULL;
    }
    return c;
}

static void config_api(const char *auth_addr) {
    /* Binary compatibility: the classic options struct keeps its layout. */
    if (sizeof(void *) == 8)
        CHECK(sizeof(msl_producer_options) == 64, "sizeof(msl_producer_options) is still 64 on LP64 (got %zu)",
              sizeof(msl_producer_options));
    CHECK(MSL_PERMISSION_DENIED == 15, "MSL_PERMISSION_DENIED is 15");
    CHECK(MSL_NO_SPACE == 16, "MSL_NO_SPACE is 16");

    msl_producer_config *c = (msl_producer_config *)&c;
    CHECK_STATUS(msl_producer_config_new(NULL), MSL_INVALID_ARGUMENT);
    CHECK_STATUS(msl_producer_config_new(&c), MSL_OK);
    CHECK(c != NULL, "config created");
    CHECK_STATUS(msl_producer_config_set_options(NULL, NULL), MSL_INVALID_ARGUMENT);
    CHECK_STATUS(msl_producer_config_set_options(c, NULL), MSL_INVALID_ARGUMENT);
    CHECK_STATUS(msl_producer_config_set_tls(NULL, NULL, NULL, NULL, NULL), MSL_INVALID_ARGUMENT);
    CHECK_STATUS(msl_producer_config_set_queue_bytes(NULL, 1), MSL_INVALID_ARGUMENT);
    CHECK_STATUS(msl_producer_config_set_queue_bytes(c, 0), MSL_INVALID_ARGUMENT);
    CHECK_STATUS(msl_producer_config_set_tls(c, NULL, "client.pem", NULL, NULL), MSL_INVALID_ARGUMENT);
    CHECK(strstr(msl_last_error(), "key") != NULL, "a certificate needs its key: %s", msl_last_error());
    CHECK_STATUS(msl_producer_config_set_tls(c, "ca\xff.pem", NULL, NULL, NULL), MSL_INVALID_ARGUMENT);

    /* TLS files with a plaintext address are refused; a missing CA file is NOT_FOUND. */
    msl_producer *p = (msl_producer *)&p;
    CHECK_STATUS(msl_producer_config_set_tls(c, "/nonexistent/ca.pem", NULL, NULL, NULL), MSL_OK);
    CHECK_STATUS(msl_producer_new_with_config(auth_addr, c, &p), MSL_INVALID_ARGUMENT);
    CHECK(p == NULL && strstr(msl_last_error(), "https://") != NULL, "plaintext + TLS files: %s", msl_last_error());
    CHECK_STATUS(msl_producer_new_with_config("https://localhost:1", c, &p), MSL_NOT_FOUND);
    CHECK(strstr(msl_last_error(), "/nonexistent/ca.pem") != NULL, "the file is named: %s", msl_last_error());
    CHECK_STATUS(msl_producer_config_set_tls(c, "", NULL, NULL, NULL), MSL_OK); /* "" = not set */
    CHECK_STATUS(msl_producer_new_with_config(NULL, c, &p), MSL_INVALID_ARGUMENT);
    CHECK_STATUS(msl_producer_new_with_config(auth_addr, c, NULL), MSL_INVALID_ARGUMENT);
    CHECK_STATUS(msl_producer_try_commit(NULL, 1, msg, 1), MSL_INVALID_ARGUMENT);
    msl_producer_config_free(c);
    msl_producer_config_free(NULL);
    CHECK(msl_last_error_code() == MSL_OK, "msl_producer_config_free(NULL) is a no-op");
}

static void wrong_token(const char *auth_addr, const char *auth_data) {
    /* The classic API: the token in msl_producer_options, as old programs do it. */
    msl_producer_options o;
    msl_producer_options_default(&o);
    o.token = "wrong";
    msl_producer *p = NULL;
    CHECK_STATUS(msl_producer_new(auth_addr, &o, &p), MSL_OK);
    msl_status st = msl_producer_commit(p, 1201, msg, sizeof msg);
    CHECK(st == MSL_OK || st == MSL_UNAUTHENTICATED, "commit queues (or already knows): %d", (int)st);
    double t0 = now_s();
    CHECK_STATUS(msl_producer_flush(p, 60000), MSL_UNAUTHENTICATED);
    double took = now_s() - t0;
    CHECK(took < 10.0, "the refusal comes within a few seconds, not at the 60 s timeout (%.2f s)", took);
    CHECK(strstr(msl_last_error(), "credentials") != NULL, "msl_last_error says why: %s", msl_last_error());
    t0 = now_s();
    CHECK_STATUS(msl_producer_commit(p, 1201, msg, sizeof msg), MSL_UNAUTHENTICATED);
    CHECK(strstr(msl_last_error(), "credentials") != NULL, "%s", msl_last_error());
    CHECK_STATUS(msl_producer_try_commit(p, 1201, msg, sizeof msg), MSL_UNAUTHENTICATED);
    CHECK_STATUS(msl_producer_flush(p, 60000), MSL_UNAUTHENTICATED);
    CHECK_STATUS(msl_producer_close(p, 60000), MSL_UNAUTHENTICATED);
    CHECK(now_s() - t0 < 2.0, "every later call fails at once (%.2f s)", now_s() - t0);
    msl_producer_free(p);

    /* The right token, through a config. */
    msl_producer_config *c = config(TOKEN, 5000);
    CHECK(c != NULL, "config with the token");
    CHECK_STATUS(msl_producer_new_with_config(auth_addr, c, &p), MSL_OK);
    msl_producer_config_free(c); /* the producer keeps its own copy */
    for (int i = 0; i < 10; i++) CHECK_STATUS(msl_producer_try_commit(p, 1201, msg, sizeof msg), MSL_OK);
    CHECK_STATUS(msl_producer_flush(p, 20000), MSL_OK);
    CHECK_STATUS(msl_producer_close(p, 20000), MSL_OK);
    msl_producer_free(p);
    CHECK(count_records(auth_data) == 10, "only the right token's 10 records are stored (%ld)",
          count_records(auth_data));
}

static void queue_bytes(void) {
    /* Port 1: nothing listens, so nothing leaves the queue. */
    const char *nowhere = "127.0.0.1:1";
    msl_producer_config *c = config(NULL, 200);
    CHECK_STATUS(msl_producer_config_set_queue_bytes(c, 1000), MSL_OK);
    msl_producer *p = NULL;
    CHECK_STATUS(msl_producer_new_with_config(nowhere, c, &p), MSL_OK);
    msl_producer_config_free(c);
    uint8_t buf[600];
    memset(buf, 'q', sizeof buf);
    CHECK_STATUS(msl_producer_try_commit(p, 1201, buf, 600), MSL_OK);
    double t0 = now_s();
    CHECK_STATUS(msl_producer_try_commit(p, 1201, buf, 600), MSL_QUEUE_FULL);
    CHECK(now_s() - t0 < 1.0, "try_commit does not wait (%.3f s)", now_s() - t0);
    CHECK(strstr(msl_last_error(), "queue_bytes = 1000") != NULL, "the message names the limit: %s",
          msl_last_error());
    t0 = now_s();
    CHECK_STATUS(msl_producer_commit(p, 1201, buf, 600), MSL_QUEUE_FULL);
    double took = now_s() - t0;
    CHECK(took >= 0.15 && took < 5.0, "commit waits for the enqueue timeout (200 ms), then fails (%.3f s)", took);
    CHECK_STATUS(msl_producer_commit(p, 1201, buf, 400), MSL_OK); /* 600 + 400 fits 1000 */
    CHECK_STATUS(msl_producer_flush(p, 300), MSL_TIMEOUT);
    CHECK(strstr(msl_last_error(), "cannot connect") != NULL, "the timeout says why: %s", msl_last_error());
    CHECK_STATUS(msl_producer_close(p, 0), MSL_TIMEOUT);
    t0 = now_s();
    msl_producer_free(p); /* closed already: no second 10 s wait */
    CHECK(now_s() - t0 < 2.0, "msl_producer_free after msl_producer_close returns at once (%.2f s)", now_s() - t0);
}

static void tls(int tls_port, int mtls_port, const char *dir, const char *tls_data) {
    char url[64], by_ip[64], mtls[64], ca[1024], other_ca[1024], cert[1024], key[1024];
    snprintf(url, sizeof url, "https://localhost:%d", tls_port);
    snprintf(by_ip, sizeof by_ip, "https://127.0.0.1:%d", tls_port);
    snprintf(mtls, sizeof mtls, "https://localhost:%d", mtls_port);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(other_ca, sizeof other_ca, "%s/other-ca.pem", dir);
    snprintf(cert, sizeof cert, "%s/client.pem", dir);
    snprintf(key, sizeof key, "%s/client.key", dir);
    msl_producer *p = NULL;

    /* The global SDK over TLS, with a token and a byte bound. */
    msl_producer_config *c = config(TOKEN, 5000);
    CHECK_STATUS(msl_producer_config_set_tls(c, ca, NULL, NULL, NULL), MSL_OK);
    CHECK_STATUS(msl_producer_config_set_queue_bytes(c, 1 << 20), MSL_OK);
    CHECK_STATUS(msl_init_with_config(url, c), MSL_OK);
    for (int i = 0; i < 20; i++) CHECK_STATUS(msl_commit(1201, msg, sizeof msg), MSL_OK);
    CHECK_STATUS(msl_try_commit(1201, msg, sizeof msg), MSL_OK);
    CHECK_STATUS(msl_flush(30000), MSL_OK);
    CHECK_STATUS(msl_close(), MSL_OK);

    /* A producer by IP address, with the certificate's name given. */
    CHECK_STATUS(msl_producer_config_set_tls(c, ca, NULL, NULL, "localhost"), MSL_OK);
    CHECK_STATUS(msl_producer_new_with_config(by_ip, c, &p), MSL_OK);
    for (int i = 0; i < 9; i++) CHECK_STATUS(msl_producer_commit(p, 1201, msg, sizeof msg), MSL_OK);
    CHECK_STATUS(msl_producer_flush(p, 30000), MSL_OK);
    msl_producer_free(p);
    CHECK(count_records(tls_data) == 30, "30 records stored over TLS (%ld)", count_records(tls_data));

    /* A CA that did not sign the server's certificate: retried, and the timeout says why. */
    CHECK_STATUS(msl_producer_config_set_tls(c, other_ca, NULL, NULL, NULL), MSL_OK);
    CHECK_STATUS(msl_producer_new_with_config(url, c, &p), MSL_OK);
    CHECK_STATUS(msl_producer_commit(p, 1201, msg, sizeof msg), MSL_OK);
    CHECK_STATUS(msl_producer_flush(p, 3000), MSL_TIMEOUT);
    CHECK(strstr(msl_last_error(), "UnknownIssuer") != NULL, "the certificate problem is named: %s",
          msl_last_error());
    CHECK_STATUS(msl_producer_close(p, 0), MSL_TIMEOUT);
    msl_producer_free(p);

    /* The wrong token over TLS: refused for good. */
    msl_producer_config *bad = config("wrong", 5000);
    CHECK_STATUS(msl_producer_config_set_tls(bad, ca, NULL, NULL, NULL), MSL_OK);
    CHECK_STATUS(msl_producer_new_with_config(url, bad, &p), MSL_OK);
    msl_producer_commit(p, 1201, msg, sizeof msg);
    CHECK_STATUS(msl_producer_flush(p, 60000), MSL_UNAUTHENTICATED);
    msl_producer_free(p);
    msl_producer_config_free(bad);

    /* mTLS: with the client certificate it works; without, nothing is delivered. */
    msl_producer_config_free(c);
    c = config(NULL, 5000);
    CHECK_STATUS(msl_producer_config_set_tls(c, ca, cert, key, NULL), MSL_OK);
    CHECK_STATUS(msl_producer_new_with_config(mtls, c, &p), MSL_OK);
    CHECK_STATUS(msl_producer_commit(p, 1201, msg, sizeof msg), MSL_OK);
    CHECK_STATUS(msl_producer_flush(p, 30000), MSL_OK);
    msl_producer_free(p);
    CHECK_STATUS(msl_producer_config_set_tls(c, ca, NULL, NULL, NULL), MSL_OK);
    CHECK_STATUS(msl_producer_new_with_config(mtls, c, &p), MSL_OK);
    CHECK_STATUS(msl_producer_commit(p, 1201, msg, sizeof msg), MSL_OK);
    msl_status st = msl_producer_flush(p, 3000);
    CHECK(st != MSL_OK, "without a client certificate the mTLS server takes nothing (%d: %s)", (int)st,
          msl_last_error());
    msl_producer_close(p, 0);
    msl_producer_free(p);
    msl_producer_config_free(c);
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 7) {
        fprintf(stderr, "usage: %s AUTH_ADDR AUTH_DATA [TLS_PORT MTLS_PORT CERT_DIR TLS_DATA]\n", argv[0]);
        return 2;
    }
    config_api(argv[1]);
    wrong_token(argv[1], argv[2]);
    queue_bytes();
    if (argc == 7) {
        tls(atoi(argv[3]), atoi(argv[4]), argv[5], argv[6]);
    } else {
        printf("# TLS: skipped (no TLS server given)\n");
        /* The global SDK with a config, without TLS. */
        msl_producer_config *c = config(TOKEN, 5000);
        CHECK_STATUS(msl_init_with_config(argv[1], c), MSL_OK);
        msl_producer_config_free(c);
        CHECK_STATUS(msl_try_commit(1201, msg, sizeof msg), MSL_OK);
        CHECK_STATUS(msl_flush(30000), MSL_OK);
        CHECK_STATUS(msl_close(), MSL_OK);
    }
    return report();
}
